"""Run the indexer's Alembic migrations from code (no alembic.ini).

    from chain.indexer.migrate import upgrade
    upgrade("sqlite:///var/indexer.db")               # or "postgresql+psycopg://u@h:5432/db"

The script location is ``chain/indexer/migrations`` inside the package; revisions live in its
``versions/`` folder (a new projection adds a revision there). ``extra_version_locations`` adds
folders of further revisions (e.g. test-only or deployment-specific projections), which join the
same history (``upgrade`` goes to ``heads``, so independent branches are fine).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "indexer_alembic_version"


def alembic_config(
    url: str | None = None,
    *,
    extra_version_locations: Iterable[str | os.PathLike] = (),
) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    locations = [str(MIGRATIONS_DIR / "versions"), *(str(p) for p in extra_version_locations)]
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    cfg.set_main_option("version_table", VERSION_TABLE)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _run(target: str | Engine, fn, *args, extra_version_locations=()) -> None:
    if isinstance(target, Engine):
        cfg = alembic_config(extra_version_locations=extra_version_locations)
        with target.begin() as conn:
            cfg.attributes["connection"] = conn
            fn(cfg, *args)
    else:
        fn(alembic_config(target, extra_version_locations=extra_version_locations), *args)


def upgrade(
    target: str | Engine, revision: str = "heads", *, extra_version_locations=()
) -> None:
    """Upgrade the database at ``target`` (URL or Engine) to ``revision`` (default: all heads)."""
    _run(target, command.upgrade, revision, extra_version_locations=extra_version_locations)


def downgrade(target: str | Engine, revision: str, *, extra_version_locations=()) -> None:
    _run(target, command.downgrade, revision, extra_version_locations=extra_version_locations)


def current_heads(target: str | Engine) -> set[str]:
    """Revisions the database is at (empty set if never migrated)."""
    engine = target if isinstance(target, Engine) else create_engine(target)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return set(ctx.get_current_heads())
    finally:
        if not isinstance(target, Engine):
            engine.dispose()
