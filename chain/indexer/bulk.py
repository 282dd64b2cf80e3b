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
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

_Plan = tuple[str, bool, tuple[tuple[str, Callable[[Any], Any] | None], ...]]
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
        plan = _plans[key] = (compiled.string, positional, procs)
    return plan


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (each a mapping column -> value) into ``table`` in one ``executemany``
    per column set, as ``conn.execute(insert(table), rows)`` would."""
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
        sql, positional, procs = plan
        if positional:
            params: list[Any] = [
                tuple(row[n] if p is None else p(row[n]) for n, p in procs) for row in group
            ]
        else:
            params = [{n: row[n] if p is None else p(row[n]) for n, p in procs} for row in group]
        conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])
