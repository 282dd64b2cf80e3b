"""One receipt watcher per node connection in a process, instead of a receipt poll per transaction.

Every sent transaction is handed to the watcher as a `Ticket`. The watcher's thread polls the
chain head (one `eth_getBlockByNumber` batch a poll, every `poll_interval` while anything is
pending) and, when the head moves (and for tickets it has not looked at yet), fetches the
receipts of all pending tickets in one JSON-RPC batch. A waiter blocks on its ticket's event.

Transactions that do not show up are never left hanging silently. A ticket still without a
receipt `stale_blocks` blocks after it was sent is checked against the sender's account nonces
(`latest` = mined, `pending` = mined + ready in the pool), and no sooner than
`min_stale_seconds` after it was sent (automine chains make blocks by the millisecond). A finding
is acted on only when the next check, at a later head, confirms it:

- nonce < latest and no receipt: another transaction took the nonce -> `TransactionReplaced`;
- latest <= nonce < pending: ready in the pool, waiting for block space -> keep waiting;
- nonce >= pending, unknown to the node: dropped -> the same signed bytes are sent again (same
  nonce, same hash), up to `max_resubmits` times, then `TransactionDropped`;
- nonce >= pending, still in the pool: queued behind a nonce gap. The missing nonces that no
  ticket of this process holds are filled with zero-value transfers to self (`fill_gaps`,
  logged), or the queued tickets fail with `NonceGap`.

A chain head that moves backwards or changes its hash at a known height (a reorg, or anvil's
`evm_revert`) makes every pending ticket be checked at once; one the node no longer knows then
fails with `TransactionDropped` rather than being resubmitted onto the new history.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.datastructures import AttributeDict

from .errors import NonceGap, TransactionDropped, TransactionFailed, TransactionReplaced
from .rpc import Rpc, RpcError, RpcUnavailable, to_hex

log = logging.getLogger(__name__)

#: refusals of eth_sendRawTransaction meaning the node already has these exact bytes
ALREADY_KNOWN = ("already known", "already imported", "known transaction", "already in")


@dataclass(frozen=True)
class Head:
    number: int
    hash: str
    base_fee: int
    seen_at: float  # time.monotonic() when the poll that first saw this head started


@dataclass(eq=False)
class Ticket:
    """One sent transaction followed until its receipt, or a failure, is known."""

    tx_hash: str  # 0x-hex, lower case
    raw: bytes
    sender: str
    nonce: int
    #: signs a zero-value transfer to self at a nonce (to fill a gap), or None
    filler: Callable[[int], bytes] | None = None
    event: threading.Event = field(default_factory=threading.Event)
    receipt: dict[str, Any] | None = None  # the node's JSON receipt
    error: TransactionFailed | None = None
    sent_block: int | None = None  # head when the watcher first saw the ticket
    checked_block: int | None = None
    fetched_head: int | None = None
    resubmits: int = 0
    after_reset: bool = False
    #: a finding ("replaced", "dropped", "queued") and the head it was made at, until confirmed
    suspect: tuple[str, int] | None = None
    #: time.monotonic() before the transaction was sent
    sent_at: float = field(default_factory=time.monotonic)

    def wait(self, timeout: float | None) -> bool:
        return self.event.wait(timeout)


class ReceiptWatcher:
    """Follows the tickets of every sender on one node connection (see the module docstring)."""

    def __init__(self, rpc: Rpc, *, poll_interval: float = 0.01, max_poll_interval: float = 0.1, stale_blocks: int = 5,
                 min_stale_seconds: float = 1.0, max_resubmits: int = 3, fill_gaps: bool = True,
                 idle_exit: float = 30.0):
        self.rpc = rpc
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._block_interval = poll_interval  # running mean of the time between new heads
        self._idled = True  # idle since the last new head (that interval says nothing of the chain)
        self.stale_blocks = stale_blocks
        self.min_stale_seconds = min_stale_seconds
        self.max_resubmits = max_resubmits
        self.fill_gaps = fill_gaps
        self.idle_exit = idle_exit
        self._pending: dict[str, Ticket] = {}
        self._in_flight: dict[str, int] = {}  # sender -> pending tickets
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._head: Head | None = None
        self._listeners: list[Callable[[], Callable[[Head], None] | None]] = []
        self._last_error_log = 0.0
        #: how tickets ended since the process started (``outcomes()``; the node's /metrics)
        self._outcomes: dict[str, int] = {}

    # ------------------------------------------------------------------ public
    def track(self, ticket: Ticket) -> Ticket:
        with self._cond:
            if ticket.tx_hash not in self._pending:
                self._in_flight[ticket.sender] = self._in_flight.get(ticket.sender, 0) + 1
            self._pending[ticket.tx_hash] = ticket
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"receipts:{self.rpc.key}", daemon=True)
                self._thread.start()
            self._cond.notify()
        return ticket

    def on_head(self, listener: Callable[[Head], None]) -> None:
        """Call `listener` with each new head the watcher sees (the fee caches use it). A bound
        method is held weakly: a pipeline that is gone stops listening."""
        ref: Callable[[], Callable[[Head], None] | None]
        ref = weakref.WeakMethod(listener) if inspect.ismethod(listener) else (lambda: listener)  # type: ignore[arg-type]
        self._listeners.append(ref)

    @property
    def head(self) -> Head | None:
        return self._head

    def pending_count(self) -> int:
        return len(self._pending)

    def outcomes(self) -> dict[str, int]:
        """Tickets resolved since the process started, by outcome: ``mined`` / ``reverted`` (a
        receipt with status 1 / 0), or the failure's class (``TransactionReplaced``,
        ``TransactionDropped``, ``NonceGap``)."""
        with self._cond:
            return dict(self._outcomes)

    def in_flight(self, sender: str) -> bool:
        """Whether `sender` has transactions the watcher has not seen mined yet."""
        return self._in_flight.get(sender, 0) > 0

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._idled = True
                    self._cond.wait(self.idle_exit)
                    if not self._pending:
                        self._thread = None
                        return
            started = time.monotonic()
            try:
                self.poll_once()
            except Exception as exc:  # the node is down or answering garbage: keep trying, say so
                now = time.monotonic()
                if now - self._last_error_log > 10:
                    log.warning("receipt watcher on %s: %s: %s (%d pending)", self.rpc.key, type(exc).__name__, exc,
                                len(self._pending))
                    self._last_error_log = now
                time.sleep(0.5)
                continue
            if self._pending:
                time.sleep(max(0.0, self.interval() - (time.monotonic() - started)))

    def interval(self) -> float:
        """Seconds between polls: a twentieth of the observed block time, within the bounds."""
        return min(self.max_poll_interval, max(self.poll_interval, self._block_interval / 20))

    def _new_head(self) -> tuple[Head, bool, bool]:
        """(head, moved, reset): one `eth_getBlockByNumber` a poll; the block at the previous
        height too when the head jumped several blocks (to see whether it is still there)."""
        started = time.monotonic()
        prev = self._head
        latest = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if not isinstance(latest, dict):
            raise RpcUnavailable(f"no latest block: {latest}")
        number, block_hash = int(latest["number"], 16), latest["hash"]
        if prev is None:
            moved, reset = True, False
        elif number == prev.number:
            moved = reset = block_hash != prev.hash
        elif number == prev.number + 1:
            moved, reset = True, latest["parentHash"] != prev.hash
        elif number > prev.number:
            older = self.rpc.call("eth_getBlockByNumber", [to_hex(prev.number), False])
            moved, reset = True, not isinstance(older, dict) or older["hash"] != prev.hash
        else:
            moved = reset = True
        if moved:
            if prev is not None and not self._idled:
                self._block_interval = 0.8 * self._block_interval + 0.2 * (started - prev.seen_at)
            self._idled = False
        head = Head(number, block_hash, int(latest.get("baseFeePerGas") or "0x0", 16),
                    started if moved or prev is None else prev.seen_at)
        return head, moved, reset

    def poll_once(self) -> None:
        """One round: the head, the receipts of pending tickets, the stale checks."""
        prev = self._head
        head, moved, reset = self._new_head()
        self._head = head
        if moved:
            alive = []
            for ref in self._listeners:
                listener = ref()
                if listener is not None:
                    listener(head)
                    alive.append(ref)
            self._listeners = alive
        with self._cond:
            tickets = list(self._pending.values())
        if reset:
            log.info("chain head went from %d (%s) to %d (%s): checking %d pending transactions",
                     prev.number, prev.hash, head.number, head.hash, len(tickets))  # type: ignore[union-attr]
        for t in tickets:
            if t.sent_block is None or reset:
                t.sent_block = head.number
            if reset:
                t.after_reset = True
        # all receipts when a block arrives (a block is visible only with its receipts); besides,
        # once, every ticket the watcher has never looked at: its transaction may already be in
        # the head it knows (sent before that head was seen, or mined into a block identical to
        # the head it saw before a revert: same number, parent, timestamp and so the same hash)
        fetch = [t for t in tickets if moved or t.fetched_head is None]
        if fetch:
            self._fetch_receipts(fetch, head.number)
        stale = [t for t in tickets if not t.event.is_set()
                 and ((t.after_reset and t.suspect is None) or self._is_stale(t, head.number))]
        if stale:
            self._check(stale, head.number)

    def _is_stale(self, t: Ticket, head: int) -> bool:
        assert t.sent_block is not None
        if t.suspect is not None:
            return head > t.suspect[1]
        if head - t.sent_block < self.stale_blocks or time.monotonic() - t.sent_at < self.min_stale_seconds:
            return False
        return t.checked_block is None or head - t.checked_block >= self.stale_blocks

    def _fetch_receipts(self, tickets: list[Ticket], head: int) -> None:
        results = self.rpc.batch([("eth_getTransactionReceipt", [t.tx_hash]) for t in tickets])
        for t, r in zip(tickets, results):
            if isinstance(r, dict):
                self._resolve(t, receipt=r)
            else:
                t.fetched_head = head

    def _resolve(self, t: Ticket, receipt: dict[str, Any] | None = None, error: TransactionFailed | None = None) -> None:
        with self._cond:
            if self._pending.get(t.tx_hash) is t:
                del self._pending[t.tx_hash]
                left = self._in_flight.get(t.sender, 1) - 1
                if left:
                    self._in_flight[t.sender] = left
                else:
                    self._in_flight.pop(t.sender, None)
                if error is not None:
                    outcome = type(error).__name__
                else:
                    outcome = "mined" if receipt is not None and int(receipt.get("status") or "0x0", 16) == 1 else "reverted"
                self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1
        t.receipt, t.error = receipt, error
        t.event.set()

    # ------------------------------------------------------------------ stale tickets
    def _check(self, stale: list[Ticket], head: int) -> None:
        """Classify each stale ticket (see the module docstring); act on a finding only when a
        later head confirms it (a node may show an account's nonce before the block's receipts)."""
        senders = sorted({t.sender for t in stale})
        counts = self.rpc.batch([("eth_getTransactionCount", [s, tag]) for s in senders for tag in ("latest", "pending")])
        nonces = {}
        for i, s in enumerate(senders):
            latest, pending = counts[2 * i], counts[2 * i + 1]
            if isinstance(latest, RpcError) or isinstance(pending, RpcError):
                raise RpcUnavailable(f"eth_getTransactionCount({s}): {latest} / {pending}")
            nonces[s] = (int(latest, 16), int(pending, 16))
        mined = [t for t in stale if t.nonce < nonces[t.sender][0]]
        beyond = [t for t in stale if t.nonce >= nonces[t.sender][1]]
        calls = ([("eth_getTransactionReceipt", [t.tx_hash]) for t in mined]
                 + [("eth_getTransactionByHash", [t.tx_hash]) for t in beyond])
        results = self.rpc.batch(calls) if calls else []
        verdicts: dict[Ticket, str | None] = {t: None for t in stale}  # ready in the pool: None
        for t, r in zip(mined, results):
            if isinstance(r, dict):
                self._resolve(t, receipt=r)
                del verdicts[t]
            elif r is None:
                verdicts[t] = "replaced"
        for t, r in zip(beyond, results[len(mined):]):
            if r is None:
                verdicts[t] = "dropped"
            elif isinstance(r, dict) and r.get("blockNumber") is None:
                verdicts[t] = "queued"
            # else: mined since the nonces were read, or an error: look again next time
        dropped, queued = [], []
        for t, verdict in verdicts.items():
            if verdict is None:
                t.suspect, t.after_reset, t.checked_block = None, False, head
            elif t.suspect is None or t.suspect[0] != verdict or t.suspect[1] >= head:
                t.suspect = (verdict, head)  # confirm at a later head
            else:
                t.suspect, t.checked_block = None, head
                if verdict == "replaced":
                    self._fail(t, TransactionReplaced(
                        f"transaction {t.tx_hash} from {t.sender} was not mined: another transaction with nonce "
                        f"{t.nonce} was (the account's nonce is {nonces[t.sender][0]})", tx_hash=t.tx_hash,
                        sender=t.sender, nonce=t.nonce))
                elif verdict == "dropped":
                    dropped.append(t)
                else:
                    queued.append(t)
        self._resubmit(sorted(dropped, key=lambda t: (t.sender, t.nonce)))
        self._handle_gaps(queued, nonces)

    def _resubmit(self, dropped: list[Ticket]) -> None:
        send: list[Ticket] = []
        for t in dropped:
            if t.after_reset:
                self._fail(t, TransactionDropped(
                    f"transaction {t.tx_hash} (nonce {t.nonce} of {t.sender}) is gone: the chain was reverted or "
                    f"reorganised below it and the node no longer has it; not resubmitted", tx_hash=t.tx_hash,
                    sender=t.sender, nonce=t.nonce))
            elif t.resubmits >= self.max_resubmits:
                self._fail(t, TransactionDropped(
                    f"transaction {t.tx_hash} (nonce {t.nonce} of {t.sender}) was dropped by the node "
                    f"{t.resubmits + 1} times; giving up", tx_hash=t.tx_hash, sender=t.sender, nonce=t.nonce))
            else:
                send.append(t)
        if not send:
            return
        results = self.rpc.batch([("eth_sendRawTransaction", [to_hex(t.raw)]) for t in send])
        for t, r in zip(send, results):
            t.resubmits += 1
            if isinstance(r, RpcError) and not any(k in r.message.lower() for k in ALREADY_KNOWN):
                if "nonce too low" in r.message.lower():
                    continue  # the nonce was used meanwhile: the next check finds the receipt or the replacement
                self._fail(t, TransactionDropped(
                    f"transaction {t.tx_hash} (nonce {t.nonce} of {t.sender}) was dropped by the node, which "
                    f"refused it again: {r.message}", tx_hash=t.tx_hash, sender=t.sender, nonce=t.nonce))
            else:
                log.warning("transaction %s (nonce %d of %s) was dropped by the node: sent again (%d/%d)",
                            t.tx_hash, t.nonce, t.sender, t.resubmits, self.max_resubmits)

    def _handle_gaps(self, queued: list[Ticket], nonces: dict[str, tuple[int, int]]) -> None:
        by_sender: dict[str, list[Ticket]] = {}
        for t in queued:
            by_sender.setdefault(t.sender, []).append(t)
        for sender, ts in by_sender.items():
            with self._cond:
                held = {t.nonce for t in self._pending.values() if t.sender == sender}
            first = min(t.nonce for t in ts)
            missing = [n for n in range(nonces[sender][1], first) if n not in held]
            if not missing:
                continue  # our own lower transactions are being resubmitted
            filler = ts[0].filler
            if not self.fill_gaps or filler is None:
                for t in ts:
                    self._fail(t, NonceGap(
                        f"transaction {t.tx_hash} (nonce {t.nonce} of {sender}) waits in the node's pool behind "
                        f"nonces {missing[0]}..{missing[-1]} that nobody sent; it executes only once they are "
                        f"filled", tx_hash=t.tx_hash, sender=sender, nonce=t.nonce))
                continue
            log.warning("nonce gap for %s: nonces %d..%d missing below queued transaction(s) %s: filling them with "
                        "zero-value transfers to self", sender, missing[0], missing[-1], [t.tx_hash for t in ts])
            results = self.rpc.batch([("eth_sendRawTransaction", [to_hex(filler(n))]) for n in missing])
            for n, r in zip(missing, results):
                if isinstance(r, RpcError):
                    log.warning("gap filler at nonce %d of %s refused: %s", n, sender, r.message)

    def _fail(self, t: Ticket, error: TransactionFailed) -> None:
        log.warning("%s", error)
        self._resolve(t, error=error)


_HEX_BYTES = ("blockHash", "transactionHash", "logsBloom")
_INTS = ("blockNumber", "transactionIndex", "cumulativeGasUsed", "status", "gasUsed", "effectiveGasPrice", "type",
         "blobGasPrice", "blobGasUsed")
_LOG_HEX_BYTES = ("blockHash", "transactionHash", "data")
_LOG_INTS = ("blockNumber", "transactionIndex", "logIndex")


@functools.lru_cache(maxsize=4096)
def _checksum(address: str) -> str:  # the same few contracts and senders, over and over
    return to_checksum_address(address)


def format_receipt(raw: dict[str, Any]) -> AttributeDict:
    """A node's JSON receipt as web3 returns it (web3's receipt formatter, written out: it costs
    ~0.1 ms a receipt through web3's generic formatter pipeline; `tests/test_tx_pipeline.py`
    compares the two)."""
    out = _converted(raw, _HEX_BYTES, _INTS)
    for k in ("contractAddress", "from", "to"):
        v = out.get(k)
        if isinstance(v, str) and len(v) == 42:
            out[k] = _checksum(v)
    if "logs" in out:
        out["logs"] = [_format_log(entry) for entry in out["logs"]]
    return AttributeDict(out)


def _format_log(raw: dict[str, Any]) -> AttributeDict:
    out = _converted(raw, _LOG_HEX_BYTES, _LOG_INTS)
    out["address"] = _checksum(out["address"])
    out["topics"] = [HexBytes(t) for t in out.get("topics", [])]
    return AttributeDict(out)


def _converted(raw: dict[str, Any], hex_bytes: tuple[str, ...], ints: tuple[str, ...]) -> dict[str, Any]:
    out = dict(raw)
    for k in hex_bytes:
        if out.get(k) is not None:
            out[k] = HexBytes(out[k])
    for k in ints:
        v = out.get(k)
        if isinstance(v, str):
            out[k] = int(v, 16)
    return out


_watchers: dict[str, ReceiptWatcher] = {}
_watchers_lock = threading.Lock()


def watcher_for(rpc: Rpc) -> ReceiptWatcher:
    """The process's watcher for `rpc`'s node (created on first use)."""
    with _watchers_lock:
        w = _watchers.get(rpc.key)
        if w is None:
            w = ReceiptWatcher(rpc)
            _watchers[rpc.key] = w
        return w
