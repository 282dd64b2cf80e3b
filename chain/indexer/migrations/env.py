"""Alembic env for the indexer read model. Driven from code by ``chain.indexer.migrate``; there is
no alembic.ini. The version table is ``indexer_alembic_version`` so that the indexer's history
does not collide with another Alembic history kept in the same database."""
from __future__ import annotations

import importlib
import logging
import pkgutil

from alembic import context
from sqlalchemy import MetaData, create_engine, pool

import chain.indexer.projections as _projections
from chain.indexer.schema import raw_metadata

config = context.config
VERSION_TABLE = config.get_main_option("version_table") or "indexer_alembic_version"


def _all_metadata() -> list[MetaData]:
    """Raw layer + every MetaData defined by a module of chain.indexer.projections (only used by
    autogenerate comparisons; upgrades run the revision files and need none of it)."""
    found = [raw_metadata]
    for mod_info in pkgutil.iter_modules(_projections.__path__):
        try:
            mod = importlib.import_module(f"{_projections.__name__}.{mod_info.name}")
        except Exception as exc:  # noqa: BLE001 - never block a migration on projection code
            logging.getLogger("alembic.env").warning("cannot import %s: %s", mod_info.name, exc)
            continue
        for value in vars(mod).values():
            if isinstance(value, MetaData) and all(value is not m for m in found):
                found.append(value)
    return found


target_metadata = _all_metadata()


def _configure(**kw) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
        **kw,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run_with(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
