"""The projection interface: how domain read-model tables are derived from decoded events.

A projection is a *pure function of the event stream*: ``apply`` may read any table through
``ctx.conn`` but must change its own tables only through the ``ctx`` write helpers
(:meth:`ProjectionContext.insert` / ``update`` / ``upsert`` / ``delete``), and must not look at
anything outside the database and the event (no RPC calls, no clock, no randomness). The helpers
record the prior image of each row they touch in ``undo_log`` so a reorg can be undone exactly;
purity is what makes the replay-from-``events`` fallback (and :meth:`Indexer.rebuild`) give the
same result as incremental indexing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from . import codec
from .schema import undo_log


@dataclass(frozen=True)
class IndexedEvent:
    """One decoded log, as handed to projections."""

    block_number: int
    log_index: int
    tx_hash: str
    tx_index: int
    block_hash: str
    block_timestamp: int
    contract: str  # name given in the ContractSpec
    address: str  # checksummed
    event: str  # ABI event name, e.g. "Transfer"
    signature: str  # canonical signature, e.g. "Transfer(address,address,uint256)"
    args: Mapping[str, Any]  # native values: int, bytes, checksummed str, dict, list
    args_json: Mapping[str, Any] = field(repr=False, default_factory=dict)  # as stored


class Projection:
    """Base class for projections. Subclasses set ``name`` and ``tables`` and implement ``apply``.

    ``tables`` lists every table the projection writes; they are emptied by a rebuild/replay and
    restored by the undo log. Their DDL comes from Alembic revisions in
    ``chain/indexer/migrations/versions`` (add one revision per new projection).
    """

    name: str = "projection"
    tables: Sequence[Table] = ()

    def handles(self, event: IndexedEvent) -> bool:  # cheap pre-filter, optional
        return True

    def apply(self, ctx: "ProjectionContext", event: IndexedEvent) -> None:
        raise NotImplementedError


def _key_of(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {c.name: row[c.name] for c in table.primary_key.columns}
    except KeyError as exc:  # pragma: no cover - programming error in a projection
        raise ValueError(f"{table.name}: primary key column {exc} missing") from exc


def _where(table: Table, key: Mapping[str, Any]):
    return and_(*(table.c[k] == v for k, v in key.items()))


# Prepared (cached) statements: building SQLAlchemy constructs per call costs more than running
# them. Keys bind as k_<column>, new values as v_<column>.
_stmt_cache: dict[tuple, Any] = {}


def _pk_where(table: Table):
    return and_(*(c == bindparam("k_" + c.name) for c in table.primary_key.columns))


def _stmt(kind: str, table: Table, cols: tuple[str, ...] = ()):
    ck = (kind, table, cols)
    st = _stmt_cache.get(ck)
    if st is None:
        if kind == "select":
            st = select(table).where(_pk_where(table))
        elif kind == "delete":
            st = delete(table).where(_pk_where(table))
        elif kind == "update":
            st = update(table).where(_pk_where(table)).values(
                {c: bindparam("v_" + c) for c in cols}
            )
        else:  # insert
            st = insert(table)
        _stmt_cache[ck] = st
    return st


def _kparams(table: Table, key: Mapping[str, Any]) -> dict[str, Any]:
    pk = table.primary_key.columns
    if len(key) != len(pk):
        raise ValueError(f"{table.name}: key must name exactly the primary key columns")
    return {"k_" + c.name: key[c.name] for c in pk}


class ProjectionContext:
    """Write access for projections inside the indexer's batch transaction, with undo logging."""

    def __init__(self, conn: Connection, tables: Iterable[Table], *, record_from_block: int):
        self.conn = conn
        self._tables = {t.name: t for t in tables}
        self._record_from = record_from_block
        self._seen: set[tuple[int, str, str]] = set()
        self._undo_rows: list[dict[str, Any]] = []
        self._last_read: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.block_number: int = -1  # block of the event being applied (set by the engine)

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: Table, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The row with primary key ``key``, or None."""
        row = self.conn.execute(_stmt("select", table), _kparams(table, key)).mappings().first()
        result = dict(row) if row is not None else None
        if table.name in self._tables:
            # remembered until the next write of this key: the usual read-modify-write then
            # needs no second SELECT for its undo record
            self._last_read[(table.name, _stable(codec.encode_row(key)))] = (
                dict(result) if result is not None else None
            )
        return result

    # -- writes --------------------------------------------------------------------------
    def insert(self, table: Table, row: Mapping[str, Any]) -> None:
        # If the INSERT succeeds the row did not exist before it, so no SELECT is needed.
        self._record(table, _key_of(table, row), known_absent=True)
        self.conn.execute(_stmt("insert", table), dict(row))

    def update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Update non-key columns of an existing row (delete + insert to change a key)."""
        if any(c.name in values for c in table.primary_key.columns):
            raise ValueError(f"{table.name}: update() cannot change primary key columns")
        self._record(table, key)
        params = _kparams(table, key)
        params.update({"v_" + c: v for c, v in values.items()})
        self.conn.execute(_stmt("update", table, tuple(sorted(values))), params)

    def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        self._record(table, key)
        self.conn.execute(_stmt("delete", table), _kparams(table, key))

    def upsert(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Insert ``key | values`` or update ``values`` of the existing row."""
        existing = self.get(table, key)
        if existing is None:
            self.insert(table, {**values, **key})
        else:
            self.update(table, key, {k: v for k, v in values.items() if k not in key})

    # -- undo ----------------------------------------------------------------------------
    def _record(self, table: Table, key: Mapping[str, Any], known_absent: bool = False) -> None:
        """Record the row image before the current block first touches ``key``."""
        if table.name not in self._tables:
            raise ValueError(f"projection wrote table {table.name!r} it does not declare")
        enc_key = codec.encode_row(key)
        skey = _stable(enc_key)
        cached = self._last_read.pop((table.name, skey), _MISSING)
        self._last_read.clear()  # any other remembered read may be stale after this write
        if self.block_number < self._record_from:
            return
        marker = (self.block_number, table.name, skey)
        if marker in self._seen:
            return
        self._seen.add(marker)
        if known_absent:
            prior = None
        elif cached is not _MISSING:
            prior = cached
        else:
            prior = self.get(table, key)
            self._last_read.pop((table.name, skey), None)
        self._undo_rows.append(
            {
                "block_number": self.block_number,
                "table_name": table.name,
                "row_key": enc_key,
                "prior": codec.encode_row(prior) if prior is not None else None,
            }
        )

    def flush_undo(self) -> int:
        n = len(self._undo_rows)
        if n:
            self.conn.execute(insert(undo_log), self._undo_rows)
            self._undo_rows = []
        return n


_MISSING = object()


def _stable(d: Mapping[str, Any]) -> str:
    import json

    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def apply_undo(conn: Connection, tables: Iterable[Table], above_block: int) -> int:
    """Restore every projection row touched by blocks > ``above_block`` to its image before the
    lowest such block, then delete those undo records. Returns the number of rows restored.

    For each (table, key) only the record of the *lowest* block matters (it holds the image as of
    ``above_block``); records are independent of each other so their order does not matter.
    """
    by_name = {t.name: t for t in tables}
    rows = conn.execute(
        select(undo_log.c.block_number, undo_log.c.table_name, undo_log.c.row_key, undo_log.c.prior)
        .where(undo_log.c.block_number > above_block)
        .order_by(undo_log.c.block_number, undo_log.c.id)
    ).all()
    first: dict[tuple[str, str], tuple[Mapping, Mapping | None]] = {}
    for _block, table_name, row_key, prior in rows:
        marker = (table_name, _stable(row_key))
        if marker not in first:
            first[marker] = (row_key, prior)
    for (table_name, _), (row_key, prior) in first.items():
        table = by_name.get(table_name)
        if table is None:
            raise RuntimeError(
                f"undo log references table {table_name!r} that no configured projection owns; "
                "configure that projection or run replay_projections()"
            )
        key = codec.decode_row(row_key)
        conn.execute(delete(table).where(_where(table, key)))
        if prior is not None:
            conn.execute(insert(table).values(**codec.decode_row(prior)))
    conn.execute(delete(undo_log).where(undo_log.c.block_number > above_block))
    return len(first)
