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

from sqlalchemy import Table, and_, delete, insert, select, update
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


class ProjectionContext:
    """Write access for projections inside the indexer's batch transaction, with undo logging."""

    def __init__(self, conn: Connection, tables: Iterable[Table], *, record_from_block: int):
        self.conn = conn
        self._tables = {t.name: t for t in tables}
        self._record_from = record_from_block
        self._seen: set[tuple[int, str, str]] = set()
        self._undo_rows: list[dict[str, Any]] = []
        self.block_number: int = -1  # block of the event being applied (set by the engine)

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: Table, key: Mapping[str, Any]) -> dict[str, Any] | None:
        row = self.conn.execute(select(table).where(_where(table, key))).mappings().first()
        return dict(row) if row is not None else None

    # -- writes --------------------------------------------------------------------------
    def insert(self, table: Table, row: Mapping[str, Any]) -> None:
        self._record(table, _key_of(table, row))
        self.conn.execute(insert(table).values(**row))

    def update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        self._record(table, key)
        self.conn.execute(update(table).where(_where(table, key)).values(**values))

    def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        self._record(table, key)
        self.conn.execute(delete(table).where(_where(table, key)))

    def upsert(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Insert ``key | values`` or update ``values`` of the existing row."""
        prior = self._record(table, key)
        if prior is None:
            prior = self.get(table, key)
        if prior is None:
            self.conn.execute(insert(table).values(**{**values, **key}))
        else:
            self.conn.execute(update(table).where(_where(table, key)).values(**values))

    # -- undo ----------------------------------------------------------------------------
    def _record(self, table: Table, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """Record the row image before the current block first touches ``key``.

        Returns the prior row if it had to be read, else None (caller may re-read)."""
        if table.name not in self._tables:
            raise ValueError(f"projection wrote table {table.name!r} it does not declare")
        if self.block_number < self._record_from:
            return None
        enc_key = codec.encode_row(key)
        marker = (self.block_number, table.name, _stable(enc_key))
        if marker in self._seen:
            return None
        self._seen.add(marker)
        prior = self.get(table, key)
        self._undo_rows.append(
            {
                "block_number": self.block_number,
                "table_name": table.name,
                "row_key": enc_key,
                "prior": codec.encode_row(prior) if prior is not None else None,
            }
        )
        return prior

    def flush_undo(self) -> int:
        n = len(self._undo_rows)
        if n:
            self.conn.execute(insert(undo_log), self._undo_rows)
            self._undo_rows = []
        return n


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
