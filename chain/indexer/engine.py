"""The reorg-safe indexing engine.

How it follows the chain
------------------------
Each poll reads ``eth_blockNumber`` and indexes up to ``head - confirmations`` in batches of at
most ``batch_size`` blocks. For a batch ``[a, b]`` it fetches the headers of every block of the
range (JSON-RPC batch requests) and the logs of the followed addresses (``eth_getLogs``, the range
being split in halves if the node refuses it), then checks, before anything is written:

* the parent hash of block ``a`` equals the stored hash of block ``a-1`` (the checkpoint);
  otherwise a reorg reached indexed blocks: walk back comparing stored hashes with the node's
  canonical hashes to the fork point, roll back everything above it (one transaction), go on;
* the headers of the range chain to each other and every log's ``blockHash`` is the hash of the
  header fetched for its block (otherwise the chain moved between the RPC calls: retry).

Raw rows (``blocks``, ``events``), the projections' changes, their undo records and the
checkpoint are then written in ONE database transaction, so the checkpoint is exactly "all
blocks up to N are fully in the read model": after a crash anywhere the indexer resumes at
checkpoint+1 with no duplicate and no gap. On start the checkpoint's hash is
compared with the canonical hash at its height (first ``sync`` of an Indexer object), which
catches a reorg that happened while the indexer was down, including one that left the chain
shorter than the checkpoint.

Rollback design: undo log, with deterministic replay as the fallback
--------------------------------------------------------------------
Projections write only through :class:`ProjectionContext`, which, the first time a block touches
a row (table + primary key), stores that row's prior image (or "absent") in ``undo_log`` in the
same transaction. Rolling back to fork point F restores, for each touched key, the image recorded
by the *lowest* block above F - i.e. the state as of F - and deletes the raw rows, undo records
and blocks above F, and moves the checkpoint to F: one transaction. This is exact for any
projection logic (inserts, updates, deletes, rows touched many times), costs only the size of the
rolled-back blocks, and needs no knowledge of the projection's semantics. Replaying all events
from the start would be exact too but costs the whole history on every reorg, and undoing by
"inverse events" is not generally possible (e.g. a delete loses data).

Undo records are pruned below ``checkpoint - undo_retention`` (``checkpoint.undo_floor`` says
from which block they are complete). A reorg deeper than that - which the confirmation depth
should make impossible, but a permissioned chain may still be rewound by its operators - falls
back to a deterministic replay: the projection tables are emptied and every kept raw event up to
F is re-applied from the ``events`` table. Both paths give the same state because projections
are pure functions of the event stream and receive the same native argument values on both paths
(see ``codec``). ``replay_projections()`` uses the same code to back-fill a newly added projection.

Contracts announced on chain (factories)
----------------------------------------
Besides the contracts it is configured with, the indexer follows contracts that a followed
contract announces (e.g. the settlement token of a new currency, created by the currency
factory): a :class:`ContractFactory` names the announcing event and turns its arguments into the
:class:`ContractSpec` to follow from that event's block on. The followed set is *derived*, never
stored: it is the configured contracts plus what the announcing events kept in ``events`` name.
So it is exactly as reorg-safe as the raw layer: a batch that discovers a contract fetches that
contract's logs for the rest of the batch before anything is written, and its in-memory
additions are dropped if the batch fails; a rollback deletes the announcing events above the fork
with everything else and the set is derived again; a restart derives it from the stored events.

Limitations: one indexer (one raw stream) per database/schema; anonymous events are stored as
undecodable; projections must not write outside the ``ctx`` helpers; a discovered contract is
followed from the block of the event announcing it (a factory's CREATE/CREATE2 emits nothing
earlier).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from eth_utils import to_checksum_address
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import RPCEndpoint

from . import codec
from .bulk import insert_rows
from .db import DEFAULT_URL, create_db_engine, writing
from .migrate import upgrade
from .projection import IndexedEvent, Projection, ProjectionContext, apply_undo
from .schema import blocks, checkpoint, events, undo_log

log = logging.getLogger("tradenet.indexer")


@dataclass(frozen=True)
class ContractSpec:
    """A contract to follow: a name used in the read model, its address and its ABI."""

    name: str
    address: str
    abi: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class ContractFactory:
    """Follow the contracts a followed contract announces: each ``event`` of the contract named
    ``contract`` gives, through ``spec(args)`` (native event arguments; a pure function, None to
    skip), the contract to follow from that event's block on, or several (a list: an ABS pool
    announces its two tranche tokens). See the module notes."""

    contract: str
    event: str
    spec: Callable[[Mapping[str, Any]], "ContractSpec | Sequence[ContractSpec] | None"]


@dataclass
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass
class Checkpoint:
    block_number: int
    block_hash: str
    undo_floor: int


@dataclass
class IndexerMetrics:
    """Counters since this Indexer object was created (read them from any thread)."""

    events_indexed: int = 0
    undecodable_logs: int = 0
    blocks_indexed: int = 0
    batches_committed: int = 0
    reorgs_detected: int = 0
    blocks_rolled_back: int = 0
    replays: int = 0
    retries: int = 0
    errors: int = 0
    chain_head: int | None = None
    last_indexed_block: int | None = None
    lag_blocks: int | None = None  # chain head - last indexed block
    last_poll_at: float | None = None
    last_reorg: dict[str, Any] | None = None  # detected_by ("parent_hash"|"checkpoint"), fork, depth

    def snapshot(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ChainMovedError(RuntimeError):
    """The chain changed between two RPC calls of one batch; the batch is retried."""


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


@dataclass
class _EventType:
    contract: str
    abi: Mapping[str, Any]
    name: str
    signature: str
    decoder: codec.EventDecoder


@dataclass
class _Followed:
    name: str
    address: str
    by_topic: dict[str, _EventType] = field(default_factory=dict)
    by_signature: dict[str, _EventType] = field(default_factory=dict)


class Indexer:
    """Follows ``contracts`` on ``w3`` and maintains the SQL read model in ``db``.

    :param w3: a connected Web3 instance.
    :param db: database URL (``sqlite:///file.db``, ``postgresql+psycopg://...``) or an Engine.
        The schema must exist (``chain.indexer.migrate.upgrade``; or ``auto_migrate=True``).
    :param contracts: the contracts to follow.
    :param start_block: first block indexed (e.g. the deployment block of the first contract).
    :param confirmations: only blocks ``<= head - confirmations`` are indexed.
    :param projections: domain projections maintained with the raw layer.
    :param name: the checkpoint row's name.
    :param batch_size: maximum blocks per batch / transaction.
    :param undo_retention: blocks below ``checkpoint - undo_retention`` lose their undo records;
        a reorg deeper than that is handled by replay.
    :param factories: contracts that announce further contracts to follow (see the module notes).
    """

    def __init__(
        self,
        w3: Web3,
        db: str | Engine = DEFAULT_URL,
        contracts: Iterable[ContractSpec | tuple[str, str, Sequence[Mapping[str, Any]]]] = (),
        *,
        start_block: int = 0,
        confirmations: int = 12,
        projections: Iterable[Projection] = (),
        name: str = "tradenet",
        batch_size: int = 500,
        undo_retention: int = 1024,
        header_batch: int = 200,
        auto_migrate: bool = False,
        logger: logging.Logger | None = None,
        factories: Iterable[ContractFactory] = (),
    ):
        if confirmations < 0 or batch_size < 1 or undo_retention < 0 or start_block < 0:
            raise ValueError("invalid indexer parameters")
        self.w3 = w3
        self.engine = create_db_engine(db) if isinstance(db, str) else db
        self.name = name
        self.start_block = start_block
        self.confirmations = confirmations
        self.batch_size = batch_size
        self.undo_retention = undo_retention
        self.header_batch = header_batch
        self.projections: list[Projection] = list(projections)
        self.log = logger or log
        self.metrics = IndexerMetrics()
        self._stop = threading.Event()
        self._startup_verified = False
        self._followed: dict[str, _Followed] = {}
        for spec in contracts:
            if not isinstance(spec, ContractSpec):
                spec = ContractSpec(*spec)
            self._add_contract(spec)
        if not self._followed:
            raise ValueError("no contracts to follow")
        self._configured = dict(self._followed)
        self._factories = {(f.contract, f.event): f for f in factories}
        self._discovered_loaded = False
        self._refresh_addresses()
        tables = [t for p in self.projections for t in p.tables]
        if len({t.name for t in tables}) != len(tables):
            raise ValueError("two projections declare the same table")
        self._projection_tables = tables
        if auto_migrate:
            upgrade(self.engine)

    # ------------------------------------------------------------------ configuration
    def _add_contract(self, spec: ContractSpec) -> None:
        address = to_checksum_address(spec.address)
        if address.lower() in self._followed:
            raise ValueError(f"address {address} followed twice")
        f = _Followed(spec.name, address)
        for item in spec.abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            sig = codec.event_signature(item)
            et = _EventType(spec.name, item, item["name"], sig, codec.EventDecoder(item))
            f.by_topic[_hex(Web3.keccak(text=sig))] = et
            f.by_signature[sig] = et
        self._followed[address.lower()] = f

    def _refresh_addresses(self) -> None:
        self._addresses = [f.address for f in self._followed.values()]

    def followed(self) -> dict[str, str]:
        """Every followed contract: checksummed address -> name (configured and discovered)."""
        self._ensure_discovered()
        return {f.address: f.name for f in self._followed.values()}

    # ------------------------------------------------------------------ discovered contracts
    def _announced(self, ev: IndexedEvent) -> list[ContractSpec]:
        """The contracts `ev` announces, if it is a factory event, that are not followed yet."""
        factory = self._factories.get((ev.contract, ev.event))
        if factory is None:
            return []
        specs = factory.spec(ev.args)
        if specs is None:
            return []
        if isinstance(specs, ContractSpec):
            specs = [specs]
        return [s for s in specs if s.address.lower() not in self._followed]

    def _ensure_discovered(self) -> None:
        if not self._discovered_loaded:
            self._load_discovered()

    def _load_discovered(self) -> None:
        """Derive the followed set again: the configured contracts plus every contract announced
        by the stored events (in chain order, so that a discovered factory's events decode)."""
        self._followed = dict(self._configured)
        if self._factories:
            announcing = or_(*(and_(events.c.contract == c, events.c.event == e) for c, e in self._factories))
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(events, blocks.c.timestamp)
                    .join(blocks, blocks.c.number == events.c.block_number)
                    .where(announcing)
                    .order_by(events.c.block_number, events.c.log_index)
                ).mappings().all()
            for r in rows:
                for spec in self._announced(self._event_from_row(r)):
                    self._add_contract(spec)
        self._refresh_addresses()
        self._discovered_loaded = True

    # ------------------------------------------------------------------ public API
    def stop(self) -> None:
        """Ask ``run_forever`` / ``sync`` to stop after the current batch."""
        self._stop.set()

    def run_forever(self, poll_interval: float = 2.0, stop_event: threading.Event | None = None) -> None:
        """Poll and index until ``stop()`` is called (or ``stop_event`` is set).

        Errors (node unreachable, database down) are logged and counted, and retried with an
        exponential back-off capped at 60 s; the checkpoint makes every retry safe."""
        if stop_event is not None:
            self._stop = stop_event
        self.log.info(
            "indexer %s: following %d contract(s) from block %d, %d confirmation(s)",
            self.name, len(self._followed), self.start_block, self.confirmations,
        )
        backoff = poll_interval
        while not self._stop.is_set():
            try:
                self.sync()
                backoff = poll_interval
            except Exception:  # noqa: BLE001 - a service loop must survive anything
                self.metrics.errors += 1
                self.log.exception("indexer %s: poll failed; retrying in %.1fs", self.name, backoff)
                self._stop.wait(backoff)
                backoff = min(max(backoff, 0.5) * 2, 60.0)
                continue
            self._stop.wait(poll_interval)
        self.log.info("indexer %s: stopped at block %s", self.name, self.metrics.last_indexed_block)

    def sync(self, max_batches: int | None = None) -> int:
        """Index everything confirmed so far (or at most ``max_batches`` batches).

        Returns the number of blocks appended (rolled-back blocks re-indexed count again)."""
        head = self.w3.eth.block_number
        target = head - self.confirmations
        self.metrics.chain_head = head
        self.metrics.last_poll_at = time.time()
        self._ensure_discovered()
        if not self._startup_verified:
            self._verify_checkpoint()
            self._startup_verified = True
        appended = 0
        batches = 0
        retries = 0
        while not self._stop.is_set() and (max_batches is None or batches < max_batches):
            cp = self._load_checkpoint()
            nxt = cp.block_number + 1 if cp else self.start_block
            if nxt > target:
                break
            end = min(nxt + self.batch_size - 1, target)
            try:
                n = self._index_range(nxt, end, cp)
            except ChainMovedError as exc:
                retries += 1
                self.metrics.retries += 1
                self.log.info("indexer %s: %s; retrying batch", self.name, exc)
                if retries > 10:
                    raise
                continue
            appended += n
            batches += 1
        cp = self._load_checkpoint()
        self.metrics.last_indexed_block = cp.block_number if cp else None
        self.metrics.lag_blocks = head - (cp.block_number if cp else self.start_block - 1)
        return appended

    def rebuild(self) -> int:
        """Drop the whole read model (raw layer, undo log, projections, checkpoint) and index
        again from ``start_block``. Returns the number of blocks indexed."""
        with writing(self.engine) as conn:
            for t in self._projection_tables:
                conn.execute(delete(t))
            for t in (undo_log, events, blocks):
                conn.execute(delete(t))
            conn.execute(delete(checkpoint).where(checkpoint.c.name == self.name))
        self._load_discovered()
        self.log.info("indexer %s: read model dropped, rebuilding from %d", self.name, self.start_block)
        return self.sync()

    def replay_projections(self) -> int:
        """Rebuild the projection tables from the stored raw events (no RPC). Use after adding a
        projection to an existing read model. Returns the number of events applied."""
        self._ensure_discovered()
        with writing(self.engine) as conn:
            cp = self._load_checkpoint(conn)
            if cp is None:
                return 0
            n, floor = self._replay(conn, cp.block_number)
            conn.execute(
                update(checkpoint).where(checkpoint.c.name == self.name).values(undo_floor=floor)
            )
        return n

    def checkpoint(self) -> Checkpoint | None:
        return self._load_checkpoint()

    # ------------------------------------------------------------------ checkpoint
    def _load_checkpoint(self, conn: Connection | None = None) -> Checkpoint | None:
        def q(c: Connection):
            row = c.execute(
                select(checkpoint.c.block_number, checkpoint.c.block_hash, checkpoint.c.undo_floor)
                .where(checkpoint.c.name == self.name)
            ).first()
            return Checkpoint(*row) if row else None

        if conn is not None:
            return q(conn)
        with self.engine.connect() as c:
            return q(c)

    def _write_checkpoint(self, conn: Connection, number: int, block_hash: str, floor: int) -> None:
        values = {"block_number": number, "block_hash": block_hash, "undo_floor": floor,
                  "updated_at": int(time.time())}
        res = conn.execute(update(checkpoint).where(checkpoint.c.name == self.name).values(**values))
        if res.rowcount == 0:
            conn.execute(insert(checkpoint).values(name=self.name, **values))

    # ------------------------------------------------------------------ RPC
    # Raw JSON-RPC through the provider: web3's result formatters (and its log decoding) cost
    # more than everything else per event; the few fields used here are converted by hand.
    def _rpc(self, method: str, params: list[Any]) -> Any:
        resp = self.w3.provider.make_request(RPCEndpoint(method), params)
        if resp.get("error"):
            raise Web3RPCError(f"{method}: {resp['error']}", rpc_response=resp)
        return resp.get("result")

    def _rpc_batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        make_batch = getattr(self.w3.provider, "make_batch_request", None)
        if len(calls) > 1 and make_batch is not None:
            try:
                resps = make_batch([(RPCEndpoint(m), p) for m, p in calls])
                if isinstance(resps, list) and len(resps) == len(calls) and not any(
                    r.get("error") for r in resps
                ):
                    return [r.get("result") for r in resps]
            except Exception as exc:  # noqa: BLE001 - provider without batch support
                self.log.debug("batch request failed (%s); sending one by one", exc)
        return [self._rpc(m, p) for m, p in calls]

    def _canonical_hash(self, number: int) -> str | None:
        blk = self._rpc("eth_getBlockByNumber", [hex(number), False])
        return blk["hash"].lower() if blk else None

    def _fetch_headers(self, a: int, b: int) -> list[Header]:
        raw: list[Any] = []
        for lo in range(a, b + 1, self.header_batch):
            hi = min(lo + self.header_batch - 1, b)
            raw.extend(self._rpc_batch(
                [("eth_getBlockByNumber", [hex(n), False]) for n in range(lo, hi + 1)]
            ))
        out = []
        for n, blk in zip(range(a, b + 1), raw):
            if not blk:
                raise ChainMovedError(f"block {n} not available")
            out.append(Header(int(blk["number"], 16), blk["hash"].lower(),
                              blk["parentHash"].lower(), int(blk["timestamp"], 16)))
        return out

    def _fetch_logs(self, a: int, b: int, addresses: Sequence[str] | None = None) -> list[Any]:
        addresses = self._addresses if addresses is None else list(addresses)
        try:
            return list(self._rpc(
                "eth_getLogs", [{"fromBlock": hex(a), "toBlock": hex(b), "address": addresses}]
            ))
        except Web3RPCError as exc:  # node refuses: too many results / range limit
            if b <= a:
                raise
            mid = (a + b) // 2
            self.log.debug("eth_getLogs %d-%d refused (%s); splitting", a, b, exc)
            return self._fetch_logs(a, mid, addresses) + self._fetch_logs(mid + 1, b, addresses)

    # ------------------------------------------------------------------ decoding
    def _decode(self, lg: Mapping[str, Any], ts: int) -> tuple[dict[str, Any], IndexedEvent | None]:
        f = self._followed[lg["address"].lower()]
        topics = [t.lower() for t in lg["topics"]]
        row: dict[str, Any] = {
            "block_number": int(lg["blockNumber"], 16),
            "log_index": int(lg["logIndex"], 16),
            "tx_hash": lg["transactionHash"].lower(),
            "tx_index": int(lg["transactionIndex"], 16),
            "block_hash": lg["blockHash"].lower(),
            "contract": f.name,
            "address": f.address,
            "event": None,
            "signature": None,
            "args": None,
            "topics": None,
            "data": None,
        }
        et = f.by_topic.get(topics[0]) if topics else None
        if et is not None:
            try:
                decoded = et.decoder.decode([bytes.fromhex(t[2:]) for t in topics],
                                            bytes.fromhex(lg["data"][2:]))
                args_json = et.decoder.to_json(decoded)
                native = et.decoder.native(decoded)  # = codec.args_from_json(et.abi, args_json)
            except Exception as exc:  # noqa: BLE001 - e.g. same topic0, other indexed layout
                self.log.warning("undecodable %s log at %s/%s: %s", f.name, row["block_number"],
                                 row["log_index"], exc)
            else:
                row.update(event=et.name, signature=et.signature, args=args_json)
                if et.decoder.unstorable(decoded):  # args hold U+FFFD for them: keep the exact log too
                    self.log.warning("%s log at %s/%s has characters no database stores; args keep U+FFFD, "
                                     "the raw log is kept", f.name, row["block_number"], row["log_index"])
                    row.update(topics=topics, data=lg["data"].lower())
                return row, IndexedEvent(
                    row["block_number"], row["log_index"], row["tx_hash"], row["tx_index"],
                    row["block_hash"], ts, f.name, f.address, et.name, et.signature, native,
                    args_json,
                )
        row.update(topics=topics, data=lg["data"].lower())
        return row, None

    # ------------------------------------------------------------------ one batch
    def _index_range(self, a: int, b: int, cp: Checkpoint | None) -> int:
        headers = self._fetch_headers(a, b)
        if cp is not None and headers[0].parent_hash != cp.block_hash:
            self.log.warning(
                "indexer %s: reorg detected: block %d parent %s != stored %s",
                self.name, a, headers[0].parent_hash, cp.block_hash,
            )
            self._handle_reorg(cp.block_number, "parent_hash")
            return 0
        for prev, cur in zip(headers, headers[1:]):
            if cur.parent_hash != prev.hash:
                raise ChainMovedError(f"headers {prev.number}-{cur.number} do not chain")
        by_number = {h.number: h for h in headers}
        before = dict(self._followed)
        try:
            rows, decoded = self._decode_range(self._fetch_logs(a, b), by_number, b)
            with writing(self.engine) as conn:
                # Guard against a concurrent writer having moved the checkpoint meanwhile.
                current = self._load_checkpoint(conn)
                if (current.block_number if current else None) != (cp.block_number if cp else None):
                    raise ChainMovedError("checkpoint moved under us (second indexer on this DB?)")
                floor = cp.undo_floor if cp else self.start_block
                insert_rows(conn, blocks, [
                    {"number": h.number, "hash": h.hash, "parent_hash": h.parent_hash,
                     "timestamp": h.timestamp} for h in headers
                ])
                insert_rows(conn, events, rows)
                self._apply_projections(conn, decoded, record_from=floor)
                new_floor = max(floor, b - self.undo_retention + 1)
                if new_floor > floor:
                    conn.execute(delete(undo_log).where(undo_log.c.block_number < new_floor))
                self._write_checkpoint(conn, b, headers[-1].hash, new_floor)
                self.before_commit(conn, a, b)
        except BaseException:
            self._followed = before  # contracts discovered by a batch that was not committed
            self._refresh_addresses()
            raise
        if len(self._followed) != len(before):
            self.log.info("indexer %s: following %d contract(s) announced in blocks %d-%d", self.name,
                          len(self._followed) - len(before), a, b)
        m = self.metrics
        m.events_indexed += len(decoded)
        m.undecodable_logs += len(rows) - len(decoded)
        m.blocks_indexed += len(headers)
        m.batches_committed += 1
        m.last_indexed_block = b
        if m.chain_head is not None:
            m.lag_blocks = m.chain_head - b
        self.log.debug("indexer %s: blocks %d-%d, %d events", self.name, a, b, len(rows))
        return len(headers)

    def _decode_range(self, logs: list[Any], by_number: Mapping[int, Header], last: int
                      ) -> tuple[list[dict[str, Any]], list[IndexedEvent]]:
        """Raw rows and decoded events of a batch's logs, in chain order. A contract announced by
        one of them (a factory event) is followed at once: its logs up to ``last`` are fetched
        and the batch is decoded again with them."""
        while True:
            rows: list[dict[str, Any]] = []
            decoded: list[IndexedEvent] = []
            announced: dict[str, tuple[ContractSpec, int]] = {}
            for lg in sorted(logs, key=lambda x: (int(x["blockNumber"], 16), int(x["logIndex"], 16))):
                h = by_number.get(int(lg["blockNumber"], 16))
                if h is None or lg["blockHash"].lower() != h.hash or lg.get("removed"):
                    raise ChainMovedError(f"log of block {lg['blockNumber']} is not on fetched chain")
                if lg["address"].lower() not in self._followed:
                    continue
                row, ev = self._decode(lg, h.timestamp)
                rows.append(row)
                if ev is not None:
                    decoded.append(ev)
                    for spec in (self._announced(ev) if self._factories else ()):
                        announced.setdefault(spec.address.lower(), (spec, ev.block_number))
            if not announced:
                return rows, decoded
            for spec, first in announced.values():
                self._add_contract(spec)
                logs = logs + self._fetch_logs(first, last, [to_checksum_address(spec.address)])
            self._refresh_addresses()

    def before_commit(self, conn: Connection, first_block: int, last_block: int) -> None:
        """Hook run inside the batch transaction after every row is written, just before
        COMMIT. Does nothing; tests override it to simulate a crash at the worst moment."""

    def _apply_projections(self, conn: Connection, evs: Sequence[IndexedEvent], record_from: int) -> None:
        if not self.projections:
            return
        ctx = ProjectionContext(conn, self._projection_tables, record_from_block=record_from)
        for ev in evs:
            ctx.block_number = ev.block_number
            for p in self.projections:
                if p.handles(ev):
                    p.apply(ctx, ev)
        ctx.flush()

    # ------------------------------------------------------------------ reorgs
    def _verify_checkpoint(self) -> None:
        cp = self._load_checkpoint()
        if cp is None:
            return
        canon = self._canonical_hash(cp.block_number)
        if canon != cp.block_hash:
            self.log.warning(
                "indexer %s: checkpoint block %d hash %s is no longer canonical (%s)",
                self.name, cp.block_number, cp.block_hash, canon,
            )
            self._handle_reorg(cp.block_number, "checkpoint")

    def _find_fork_point(self, from_number: int) -> int:
        """Highest stored block <= from_number whose hash is still canonical."""
        n = from_number
        with self.engine.connect() as conn:
            while n >= self.start_block:
                stored = conn.execute(select(blocks.c.hash).where(blocks.c.number == n)).scalar()
                if stored is None:  # not expected: blocks are stored contiguously
                    break
                if self._canonical_hash(n) == stored:
                    return n
                n -= 1
        return self.start_block - 1

    def _handle_reorg(self, from_number: int, detected_by: str) -> None:
        fork = self._find_fork_point(from_number)
        self.metrics.reorgs_detected += 1
        self.metrics.last_reorg = {
            "detected_by": detected_by, "fork_block": fork, "depth": from_number - fork,
            "at": time.time(),
        }
        self.rollback_to(fork)

    def rollback_to(self, fork: int) -> None:
        """Remove every block above ``fork`` from the read model (raw rows and projections) and
        move the checkpoint to ``fork``, in one transaction."""
        with writing(self.engine) as conn:
            cp = self._load_checkpoint(conn)
            if cp is None or cp.block_number <= fork:
                return
            dropped = cp.block_number - fork
            if fork + 1 >= cp.undo_floor:
                restored = apply_undo(conn, self._projection_tables, fork) if self.projections else 0
                conn.execute(delete(undo_log).where(undo_log.c.block_number > fork))
                floor = cp.undo_floor
                how = f"undo log, {restored} row(s) restored"
            else:
                conn.execute(delete(events).where(events.c.block_number > fork))
                n, floor = self._replay(conn, fork)
                self.metrics.replays += 1
                how = f"replay of {n} event(s) (reorg below undo retention)"
            conn.execute(delete(events).where(events.c.block_number > fork))
            conn.execute(delete(blocks).where(blocks.c.number > fork))
            if fork >= self.start_block:
                fork_hash = conn.execute(select(blocks.c.hash).where(blocks.c.number == fork)).scalar_one()
                self._write_checkpoint(conn, fork, fork_hash, min(floor, fork + 1))
            else:
                conn.execute(delete(checkpoint).where(checkpoint.c.name == self.name))
        self._load_discovered()  # contracts announced above the fork are no longer followed
        self.metrics.blocks_rolled_back += dropped
        self.metrics.last_indexed_block = fork if fork >= self.start_block else None
        self.log.warning("indexer %s: rolled back %d block(s) to %d by %s",
                         self.name, dropped, fork, how)

    def _replay(self, conn: Connection, upto: int) -> tuple[int, int]:
        """Empty the projection tables and re-apply stored events <= ``upto``; undo records are
        written for the last ``undo_retention`` blocks. Returns (events applied, undo floor)."""
        conn.execute(delete(undo_log))
        for t in self._projection_tables:
            conn.execute(delete(t))
        floor = max(self.start_block, upto - self.undo_retention + 1)
        if not self.projections:
            return 0, floor
        ctx = ProjectionContext(conn, self._projection_tables, record_from_block=floor)
        applied = 0
        last = (-1, -1)
        page = 2000
        while True:
            q = (
                select(events, blocks.c.timestamp)
                .join(blocks, blocks.c.number == events.c.block_number)
                .where(events.c.event.is_not(None), events.c.block_number <= upto)
                .where(or_(events.c.block_number > last[0],
                           and_(events.c.block_number == last[0], events.c.log_index > last[1])))
                .order_by(events.c.block_number, events.c.log_index)
                .limit(page)
            )
            chunk = conn.execute(q).mappings().all()
            if not chunk:
                break
            for r in chunk:
                ev = self._event_from_row(r)
                ctx.block_number = ev.block_number
                for p in self.projections:
                    if p.handles(ev):
                        p.apply(ctx, ev)
                applied += 1
            last = (chunk[-1]["block_number"], chunk[-1]["log_index"])
        ctx.flush()
        return applied, floor

    def _event_from_row(self, r: Mapping[str, Any]) -> IndexedEvent:
        f = self._followed.get(r["address"].lower())
        et = f.by_signature.get(r["signature"]) if f else None
        args_json = r["args"] or {}
        native = codec.args_from_json(et.abi, args_json) if et else dict(args_json)
        return IndexedEvent(
            r["block_number"], r["log_index"], r["tx_hash"], r["tx_index"], r["block_hash"],
            r["timestamp"], r["contract"], r["address"], r["event"], r["signature"], native,
            args_json,
        )
