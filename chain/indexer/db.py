"""Database engine creation for the indexer (SQLite by default, PostgreSQL by URL)."""
from __future__ import annotations

from typing import ContextManager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

DEFAULT_URL = "sqlite:///tradenet-indexer.db"


#: execution option of a write transaction (see writing())
_WRITE = "tradenet_write"


def writing(engine: Engine) -> ContextManager[Connection]:
    """``engine.begin()`` for a transaction that writes. On SQLite (an engine of
    :func:`create_db_engine`) it takes the write lock at BEGIN (``BEGIN IMMEDIATE``), waiting for
    another writer up to the busy timeout: a deferred transaction that reads first and writes
    later fails at once with "database is locked" when another connection committed in between
    (WAL's stale snapshot, which no busy timeout waits out). Elsewhere the same as ``begin()``."""
    return engine.execution_options(**{_WRITE: True}).begin()


def create_db_engine(url: str = DEFAULT_URL, **kw) -> Engine:
    """Create an Engine suited to the indexer.

    SQLite: WAL journal (readers such as the node API are not blocked by the writer), a busy
    timeout, and real transactions: pysqlite's legacy mode would only BEGIN at the first DML
    statement, so we take over and emit BEGIN ourselves (SQLAlchemy's documented recipe); the
    batch's reads, writes and checkpoint are then one atomic transaction (:func:`writing` for one
    that takes the write lock at once).
    PostgreSQL: use ``postgresql+psycopg://user@host:port/db`` (psycopg 3).
    """
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

        return engine
    kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)
