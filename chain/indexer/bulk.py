"""Many-row INSERTs below SQLAlchemy's per-row parameter handling.

``conn.execute(insert(table), rows)`` builds each row's parameters through the compiled
statement's machinery (``construct_params``, one call per row, a third of the indexer's SQL time
on a catch-up). :func:`insert_rows` compiles the INSERT once per table and column set, converts
each value with the column type's own bind processor (the one SQLAlchemy would apply, to None
too: JSON text, a JSON column's None as JSON ``null`` as before,
``Uint256`` as a decimal string on SQLite and ``NUMERIC`` on PostgreSQL, the ``::JSONB`` cast of
the compiled SQL kept) and hands the rows to the driver's ``executemany`` through
``exec_driver_sql``: same SQL, same values, same errors (wrapped by SQLAlchemy, an
``IntegrityError`` stays one), and the statement events still fire.

On PostgreSQL through psycopg 3, a group of at least :data:`COPY_MIN_ROWS` rows is written with
``COPY table (columns) FROM STDIN`` instead (the same converted values, each row sent by the
driver in COPY's text format, no statement per row): in the same transaction, all or nothing as
the INSERT, a driver error raised as SQLAlchemy's (an ``IntegrityError`` stays one), and the
``before_cursor_execute`` / ``after_cursor_execute`` events fired for it (``executemany`` true,
the rows as the parameters, no execution context) so statement listeners still see the write.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Table, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

#: groups this large go through COPY on PostgreSQL (below it, one executemany costs less than
#: COPY's own round trips; measured by bench/indexer_catchup.py --copy-ab)
COPY_MIN_ROWS = 64

_Proc = Callable[[Any], Any] | None
_Plan = tuple[str, bool, tuple[tuple[str, _Proc], ...], str | None]
_plans: dict[tuple[Any, Table, tuple[str, ...]], _Plan] = {}


def _plan(conn: Connection, table: Table, columns: tuple[str, ...]) -> _Plan | None:
    dialect = conn.dialect
    key = (dialect.name, table, columns)
    plan = _plans.get(key)
    if plan is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        positional = bool(compiled.positional)
        order = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        if set(order) != set(columns):  # a column default or an unusual dialect: not for this path
            return None
        procs = tuple((name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in order)
        copy_sql = None
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            prep = dialect.identifier_preparer
            copy_sql = (f"COPY {prep.format_table(table)} ({', '.join(prep.quote(n) for n, _ in procs)}) "
                        "FROM STDIN")
        plan = _plans[key] = (compiled.string, positional, procs, copy_sql)
    return plan


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (each a mapping column -> value) into ``table`` in one ``executemany``
    (or one ``COPY`` on PostgreSQL) per column set, as ``conn.execute(insert(table), rows)`` would."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        plan = _plan(conn, table, columns)
        if plan is None:
            conn.execute(insert(table), group)
            continue
        sql, positional, procs, copy_sql = plan
        use_copy = copy_sql is not None and len(group) >= COPY_MIN_ROWS
        if use_copy or positional:
            params: list[Any] = [tuple(row[n] if p is None else p(row[n]) for n, p in procs) for row in group]
        else:
            params = [{n: row[n] if p is None else p(row[n]) for n, p in procs} for row in group]
        if use_copy:
            _copy(conn, copy_sql, params)
        else:
            conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])


def _copy(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """``COPY ... FROM STDIN`` of ``rows`` (converted values, in the statement's column order)
    through the connection's psycopg cursor, inside its current transaction."""
    dbapi_conn = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()
    events = conn._has_events or conn.engine._has_events
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, rows, None, True)
        with cursor.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, rows, None, True)
    except dbapi_error as exc:
        raise sa_exc.DBAPIError.instance(sql, rows, exc, dbapi_error, dialect=conn.dialect) from exc
    finally:
        cursor.close()
