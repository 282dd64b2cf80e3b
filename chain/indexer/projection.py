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

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import JSON, Boolean, Integer, String, Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from . import codec
from .bulk import insert_rows
from .schema import undo_log
from .types import Uint256


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


class _Shape:
    """What the context asks of a table on every write, worked out once per table: its key
    columns and their normalisers, its columns (normaliser, whether the database fills it)."""

    __slots__ = ("pk_names", "pk", "pk_set", "columns", "names", "normalisers")

    def __init__(self, table: Table):
        self.pk_names = tuple(c.name for c in table.primary_key.columns)
        self.pk = _key_function(tuple((c.name, _normaliser(c)) for c in table.primary_key.columns))
        self.pk_set = frozenset(self.pk_names)
        self.columns = tuple((c.name, _normaliser(c), c.server_default is not None or c.default is not None)
                             for c in table.columns)
        self.names = frozenset(c.name for c in table.columns)
        self.normalisers = {name: fn for name, fn, _ in self.columns}


def _key_function(spec: tuple[tuple[str, Any], ...]):
    """key mapping -> the tuple of its normalised values (one and two columns unrolled)."""
    if len(spec) == 1:
        ((n0, f0),) = spec
        return lambda key: (None if (v := key[n0]) is None else f0(v),)
    if len(spec) == 2:
        (n0, f0), (n1, f1) = spec
        return lambda key: (None if (v := key[n0]) is None else f0(v), None if (w := key[n1]) is None else f1(w))
    return lambda key: tuple(None if (v := key[name]) is None else fn(v) for name, fn in spec)


_shapes: dict[Any, _Shape] = {}


def _shape(table: Table) -> _Shape:
    shape = _shapes.get(table)
    if shape is None:
        shape = _shapes[table] = _Shape(table)
    return shape


def _pk_tuple(table: Table, key: Mapping[str, Any]) -> tuple:
    """A row's primary key as the cache's key, each value as the database would compare it."""
    try:
        return _shape(table).pk(key)
    except KeyError as exc:  # pragma: no cover - programming error in a projection
        raise ValueError(f"{table.name}: primary key column {exc} missing") from exc


def _pk_params(table: Table, image: Mapping[str, Any]) -> dict[str, Any]:
    """The key parameters (``k_<column>``) of a full row image."""
    return {"k_" + c.name: image[c.name] for c in table.primary_key.columns}


def _as_int(v: Any) -> Any:
    if isinstance(v, int):
        return int(v)  # bool and IntEnum as the plain int the database returns
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return v
    return v


def _as_str(v: Any) -> Any:
    return str(int(v)) if isinstance(v, int) and not isinstance(v, bool) else v


def _as_json(v: Any) -> Any:
    return json.loads(json.dumps(v))


def _normaliser(column: Any):
    t = column.type
    if isinstance(t, (Uint256, Integer)):
        return _as_int
    if isinstance(t, Boolean):
        return lambda v: bool(v) if isinstance(v, int) else v
    if isinstance(t, JSON):
        return _as_json
    if isinstance(t, String):
        return _as_str
    return lambda v: v


def _complete(table: Table, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The full image of an inserted row (absent columns NULL), or None when the database fills
    one of them (a server default): then only the database knows the row."""
    out = {}
    for name, fn, filled in _shape(table).columns:
        if name in row:
            v = row[name]
            out[name] = None if v is None else fn(v)
        elif filled:
            return None
        else:
            out[name] = None
    if len(row) > len(out) or any(k not in out for k in row):
        raise ValueError(f"{table.name}: no column(s) {sorted(set(row) - set(out))}")
    return out


def _copy(image: Mapping[str, Any]) -> dict[str, Any]:
    """A row image a projection may change (JSON values copied: the cache keeps its own)."""
    return {k: copy.deepcopy(v) if isinstance(v, (list, dict)) else v for k, v in image.items()}


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


class _Row:
    """A projection row as the batch sees it: ``base`` is the image in the database (as of the
    last flush; None = absent), ``current`` the image after the batch's writes so far."""

    __slots__ = ("base", "current")

    def __init__(self, base: dict[str, Any] | None, current: dict[str, Any] | None):
        self.base = base
        self.current = current


class ProjectionContext:
    """Write access for projections inside the indexer's batch transaction, with undo logging.

    Writes are applied to an in-memory image of the rows the batch touches and reach the
    database in bulk (:meth:`flush`: per table, the deletes, then the updates grouped by the
    columns they change, then the inserts, each one ``executemany``), so a row written many
    times in a batch (a balance) is written once, and a row read after being written needs no
    SELECT. Reads through :meth:`get` see the batch's writes; any other read goes through
    :attr:`conn`, which flushes the pending writes first, so it sees them too. The end result in
    the database, the undo records and the errors (a duplicate insert is refused by the
    database) are those of writing each row at once."""

    #: flush and forget the cached images beyond this many rows (a replay touches everything)
    max_cached_rows = 50_000

    def __init__(self, conn: Connection, tables: Iterable[Table], *, record_from_block: int):
        self._conn = conn
        self._tables = {t.name: t for t in tables}
        self._record_from = record_from_block
        self._seen: set[tuple[int, str, tuple]] = set()
        self._undo_rows: list[dict[str, Any]] = []
        self._rows: dict[str, dict[tuple, _Row]] = {name: {} for name in self._tables}
        self._dirty: dict[str, dict[tuple, _Row]] = {name: {} for name in self._tables}
        self._n_dirty = 0
        self._n_cached = 0
        self.block_number: int = -1  # block of the event being applied (set by the engine)

    @property
    def conn(self) -> Connection:
        """The batch's connection, for reads the helpers do not offer; the pending writes are
        flushed first, so the read sees them."""
        self.flush_writes()
        return self._conn

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: Table, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The row with primary key ``key``, or None (the batch's writes included)."""
        if table.name not in self._tables:
            self.flush_writes()
            row = self._conn.execute(_stmt("select", table), _kparams(table, key)).mappings().first()
            return dict(row) if row is not None else None
        current = self._entry(table, key).current
        return _copy(current) if current is not None else None

    def _entry(self, table: Table, key: Mapping[str, Any], pk: tuple | None = None) -> _Row:
        """The cached image of ``key`` (read from the database on first use); ``pk`` is
        ``_pk_tuple(table, key)`` when the caller has it."""
        if pk is None:
            pk = _pk_tuple(table, key)
        entry = self._rows[table.name].get(pk)
        if entry is None:
            found = self._conn.execute(_stmt("select", table), _kparams(table, key)).mappings().first()
            image = dict(found) if found is not None else None
            entry = self._rows[table.name][pk] = _Row(image, image)
            self._n_cached += 1
        return entry

    # -- writes --------------------------------------------------------------------------
    def insert(self, table: Table, row: Mapping[str, Any]) -> None:
        key = _key_of(table, row)
        self._check(table)
        pk = _pk_tuple(table, key)
        entry = self._rows[table.name].get(pk)
        if entry is not None and entry.current is not None:
            # the row exists: the database refuses the insert (IntegrityError), as it would have
            self.flush_writes()
            self._conn.execute(_stmt("insert", table), dict(row))
            self._forget(table, pk)  # pragma: no cover - only if the database accepted it
        # If the INSERT succeeds the row did not exist before it, so no SELECT is needed.
        self._record(table, key, pk, known_absent=True)
        full = _complete(table, row)
        if full is None:  # a column the database fills (server default): write it now, read it back later
            self.flush_writes()
            self._conn.execute(_stmt("insert", table), dict(row))
            self._forget(table, pk)
            return
        if entry is None:
            entry = self._rows[table.name][pk] = _Row(None, full)  # assumed absent; the database checks
            self._n_cached += 1
        else:
            entry.current = full
        self._touch(table, pk, entry)

    def update(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Update non-key columns of an existing row (delete + insert to change a key); an
        absent row stays absent."""
        shape = _shape(table)
        if not shape.pk_set.isdisjoint(values):
            raise ValueError(f"{table.name}: update() cannot change primary key columns")
        if not shape.names.issuperset(values):
            raise ValueError(f"{table.name}: no column(s) {[c for c in values if c not in shape.names]}")
        pk = _pk_tuple(table, key)
        self._record(table, key, pk)
        entry = self._entry(table, key, pk)
        if entry.current is None:
            return
        norm = shape.normalisers
        entry.current = {**entry.current, **{c: None if v is None else norm[c](v) for c, v in values.items()}}
        self._touch(table, pk, entry)

    def delete(self, table: Table, key: Mapping[str, Any]) -> None:
        pk = _pk_tuple(table, key)
        self._record(table, key, pk)
        entry = self._entry(table, key, pk)
        if entry.current is not None:
            entry.current = None
            self._touch(table, pk, entry)

    def upsert(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """Insert ``key | values`` or update ``values`` of the existing row."""
        existing = self.get(table, key)
        if existing is None:
            self.insert(table, {**values, **key})
        else:
            self.update(table, key, {k: v for k, v in values.items() if k not in key})

    def _check(self, table: Table) -> None:
        if table.name not in self._tables:
            raise ValueError(f"projection wrote table {table.name!r} it does not declare")

    def _touch(self, table: Table, pk: tuple, entry: _Row) -> None:
        dirty = self._dirty[table.name]
        if pk not in dirty:
            dirty[pk] = entry
            self._n_dirty += 1
            if self._n_dirty >= self.max_cached_rows:
                self.flush_writes()

    def _forget(self, table: Table, pk: tuple) -> None:
        if self._rows[table.name].pop(pk, None) is not None:
            self._n_cached -= 1
        if self._dirty[table.name].pop(pk, None) is not None:
            self._n_dirty -= 1

    # -- flushing ------------------------------------------------------------------------
    def flush_writes(self) -> int:
        """Write the batch's pending row changes (see the class notes). Returns the rows written."""
        if not self._n_dirty:
            return 0
        written = 0
        for name, dirty in self._dirty.items():
            if not dirty:
                continue
            table = self._tables[name]
            deletes, inserts = [], []
            updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for pk, entry in dirty.items():
                base, current = entry.base, entry.current
                if base is None and current is not None:
                    inserts.append(current)
                elif base is not None and current is None:
                    deletes.append(_pk_params(table, base))
                elif base is not None and current is not None:
                    changed = tuple(sorted(c for c, v in current.items() if base.get(c, _MISSING) != v))
                    if changed:
                        params = _pk_params(table, current)
                        params.update({"v_" + c: current[c] for c in changed})
                        updates.setdefault(changed, []).append(params)
                entry.base = current
            if deletes:
                self._conn.execute(_stmt("delete", table), deletes)
            for cols, params in updates.items():
                self._conn.execute(_stmt("update", table, cols), params)
            insert_rows(self._conn, table, inserts)
            written += len(deletes) + len(inserts) + sum(len(p) for p in updates.values())
            dirty.clear()
        self._n_dirty = 0
        if self._n_cached > self.max_cached_rows:
            for rows in self._rows.values():
                rows.clear()
            self._n_cached = 0
        return written

    def flush(self) -> int:
        """Write the pending row changes and undo records (the end of a batch). Returns the
        number of undo records written."""
        self.flush_writes()
        return self.flush_undo()

    # -- undo ----------------------------------------------------------------------------
    def _record(self, table: Table, key: Mapping[str, Any], pk: tuple, known_absent: bool = False) -> None:
        """Record the row image before the current block first touches ``key`` (``pk`` its
        ``_pk_tuple``)."""
        self._check(table)
        if self.block_number < self._record_from:
            return
        marker = (self.block_number, table.name, pk)
        if marker in self._seen:
            return
        self._seen.add(marker)
        enc_key = codec.encode_row(key)
        prior = None if known_absent else self._entry(table, key, pk).current
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
            insert_rows(self._conn, undo_log, self._undo_rows)
            self._undo_rows = []
        return n


_MISSING = object()


def _stable(d: Mapping[str, Any]) -> str:
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
