"""Signing and sending transactions from local keys: the submission pipeline.

`NonceManager` hands out nonces per account from a local counter seeded with the node's pending
count. `TxSender.submit_raw` takes the nonce, signs and sends under the account's lock, so nonces
reach the node in order and a refused send gives its nonce back: no gap, no collision, whatever
number of threads submit. Around that, every sender on one node connection shares a `Pipeline`:

- gas: by default (``precheck=True``) the call is checked first, so a call that would revert
  raises its decoded Solidity error before a nonce is taken or anything is sent: one ``eth_call``
  at the operation's learned limit (the `GasBook`), or an estimate when the operation is new (or
  the check ran short of gas), which feeds the book. ``precheck=False`` sends at once with the
  learned limit (estimating only on a miss); a reverting call is then mined as failed and
  `wait()` raises its decoded error, and a call that ran out of the learned gas is re-estimated
  and sent again once. The check runs on `Pipeline.precheck_block`;
- fees: `FeeCache`, read at most once per block (free-gas chains: base fee 0, constant);
- chain id: once per connection;
- signing: `chain.signing.TxSigner` (libsecp256k1); sending: raw ``eth_sendRawTransaction``
  over `chain.rpc` (no web3 middleware), concurrent senders' transactions coalesced into shared
  JSON-RPC batches (`chain.rpc.SendQueue`);
- receipts: the process's `chain.receipts.ReceiptWatcher` (one poll per block for all pending
  transactions; drops, replacements and nonce gaps are handled there); `PendingTx.wait()` blocks
  on an event.

On a provider that is not JSON-RPC (eth-tester) the same code runs over web3's methods, and
`wait()` polls for the receipt itself.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TimeExhausted, Web3RPCError

from .errors import ContractRevert, ErrorDecoder, TransactionFailed
from .fsutil import HostLock
from .gasbook import GasBook, gas_key
from .receipts import ALREADY_KNOWN, Head, ReceiptWatcher, Ticket, format_receipt, watcher_for
from .rpc import Rpc, RpcError, RpcUnavailable, SendQueue, rpc_for, to_hex
from .signing import TxSigner

log = logging.getLogger(__name__)

#: Called with each transaction's hash once the node has accepted it, in the context (thread,
#: request) that sent it: the node API's asynchronous writes answer at the first one
#: (``node_api.operations``).
on_accepted: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar("on_accepted",
                                                                                         default=None)

#: refusals that mean the nonce is not (or no longer) the account's next one
NONCE_REFUSALS = ("nonce", "replacement transaction underpriced")
#: a failed receipt that used this share of its gas limit may have run out of gas
OUT_OF_GAS_SHARE = 0.95


class NonceManager:
    """Per-account nonce counters shared by every sender on one connection."""

    def __init__(self, w3: Web3, rpc: Rpc | None = None):
        self._w3 = w3
        self._rpc = rpc
        self._next: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def peek(self, address: str) -> int:
        """Next nonce for `address`; caller holds `lock(address)`."""
        if address not in self._next:
            if self._rpc is not None:
                self._next[address] = int(self._rpc.call("eth_getTransactionCount", [address, "pending"]), 16)
            else:
                self._next[address] = self._w3.eth.get_transaction_count(address, "pending")
        return self._next[address]

    def advance(self, address: str) -> None:
        self._next[address] += 1

    def resync(self, address: str | None = None) -> None:
        """Forget cached counters (after a node restart, a snapshot revert or a nonce error)."""
        with self._guard:
            if address is None:
                self._next.clear()
            else:
                self._next.pop(address, None)


class SharedNonceManager(NonceManager):
    """Nonce counters shared by the processes of one host that sign for the same accounts (the
    worker processes of ``tradenet node --workers N``): each account's counter is a small file in
    `directory`, read and written only under that file's lock (:class:`chain.fsutil.HostLock`),
    which a sender holds from taking the nonce until the node accepted or refused the transaction
    (``TxSender.submit_raw``). So two processes never send one nonce, and none skips one.

    The directory must be fresh for each run of the node (the supervisor makes one): a counter
    left by an earlier run of a chain that was reset since would send nonces beyond the account's.
    A counter behind the chain (a process stopped between sending and counting) is refused as "nonce
    too low" by the node, which resyncs it from the node's pending count."""

    def __init__(self, w3: Web3, rpc: Rpc | None, directory: str | os.PathLike[str]):
        super().__init__(w3, rpc)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._host_locks: dict[str, HostLock] = {}

    def lock(self, address: str) -> HostLock:  # type: ignore[override]
        with self._guard:
            lock = self._host_locks.get(address)
            if lock is None:
                lock = self._host_locks[address] = HostLock(self.directory / f"{address.lower()}.nonce")
            return lock

    def peek(self, address: str) -> int:
        fd = self._held(address)
        stored = os.pread(fd, 32, 0).strip()
        self._next.pop(address, None)
        if stored:
            self._next[address] = int(stored)
            return self._next[address]
        return super().peek(address)  # the node's pending count

    def advance(self, address: str) -> None:
        fd = self._held(address)
        value = b"%d" % (self._next[address] + 1)  # the nonce this holder peeked and sent, plus one
        os.pwrite(fd, value, 0)
        os.ftruncate(fd, len(value))
        self._next.pop(address, None)

    def _held(self, address: str) -> int:
        fd = self.lock(address).held_fd()
        if fd is None:
            raise RuntimeError(f"the nonce counter of {address} is used without holding its lock")
        return fd

    def resync(self, address: str | None = None) -> None:
        """The next `peek` asks the node: the account's counter file is emptied (every file, for
        None). Called within the account's lock (a refused nonce) or outside it: another process
        may be sending then; it writes its count after, which the node then checks."""
        with self._guard:
            paths = [lock.path for addr, lock in self._host_locks.items() if address in (None, addr)]
        for path in paths:
            try:
                os.truncate(path, 0)
            except FileNotFoundError:  # its lock was never taken: nothing counted yet
                pass


@dataclass(frozen=True)
class FeePolicy:
    """How to price transactions: EIP-1559 from the node's base fee, or a fixed legacy price
    (0 on free-gas permissioned networks such as a Besu consortium chain).

    ``min_fee_cap`` is the least ``maxFeePerGas`` offered: on a London chain whose base fee is
    0 but can rise (geth Clique: a block above half the gas limit raises it to 1 wei, and
    EIP-1559's rounding never brings it back below 8), a cap of ``2 * base = 0`` would leave a
    transaction, and every later nonce of its sender, unmineable. Only the base fee is paid
    (the tip stays ``priority_fee``), so the cap costs nothing while the base fee is 0."""

    mode: str = "eip1559"  # or "legacy"
    legacy_gas_price: int = 0
    priority_fee: int = 0
    min_fee_cap: int = 0

    def fields(self, w3: Web3) -> dict[str, int]:
        if self.mode == "legacy":
            return {"gasPrice": self.legacy_gas_price}
        return self.for_base_fee(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)

    def for_base_fee(self, base: int) -> dict[str, int]:
        if self.mode == "legacy":
            return {"gasPrice": self.legacy_gas_price}
        # 2x the base fee: stays valid through several blocks of rising base fees
        cap = max(2 * base + self.priority_fee, self.min_fee_cap)
        return {"maxFeePerGas": cap, "maxPriorityFeePerGas": self.priority_fee}


class FeeCache:
    """A policy's fee fields, from a base fee read at most once per `max_age` seconds (one block
    at 1 s blocks), and refreshed for free from each new head the receipt watcher sees."""

    def __init__(self, policy: FeePolicy, read_base_fee: Callable[[], int], max_age: float = 1.0):
        self.policy = policy
        self._read = read_base_fee
        self.max_age = max_age
        self._fields: dict[str, int] | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def fields(self) -> dict[str, int]:
        if self.policy.mode == "legacy":
            return self.policy.for_base_fee(0)
        with self._lock:
            if self._fields is None or time.monotonic() - self._at > self.max_age:
                self._fields, self._at = self.policy.for_base_fee(self._read()), time.monotonic()
            return self._fields

    def observe(self, head: Head) -> None:
        with self._lock:
            if head.seen_at >= self._at:
                self._fields, self._at = self.policy.for_base_fee(head.base_fee), head.seen_at


@dataclass
class Pipeline:
    """What every sender on one node connection shares (see the module docstring)."""

    w3: Web3
    rpc: Rpc | None
    chain_id: int
    gas: GasBook
    fees: FeeCache
    watcher: ReceiptWatcher | None
    sends: SendQueue | None = None
    #: the state a revert check (precheck) runs on: "auto" = "pending" while the account has
    #: transactions in flight (a call may depend on them), else "latest"; or a fixed block tag.
    #: anvil builds its pending block from the whole pool for each such call (~30 ms with 1,500
    #: pooled transactions against ~0.3 ms on "latest"); geth keeps its pending state up to date.
    precheck_block: str = "auto"

    def __post_init__(self) -> None:
        if self.sends is None and self.rpc is not None:
            self.sends = SendQueue(self.rpc)

    @classmethod
    def for_web3(cls, w3: Web3, fees: FeePolicy = FeePolicy(), *, rpc: Rpc | None = None,
                 chain_id: int | None = None, gas: GasBook | None = None) -> "Pipeline":
        rpc = rpc if rpc is not None else rpc_for(w3)

        def base_fee() -> int:
            if rpc is None:
                return w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
            return int(rpc.call("eth_getBlockByNumber", ["latest", False]).get("baseFeePerGas") or "0x0", 16)

        if chain_id is None:
            chain_id = int(rpc.call("eth_chainId", []), 16) if rpc is not None else w3.eth.chain_id
        watcher = watcher_for(rpc) if rpc is not None else None
        cache = FeeCache(fees, base_fee)
        if watcher is not None:
            watcher.on_head(cache.observe)
        return cls(w3, rpc, chain_id, gas or GasBook(), cache, watcher)


@dataclass
class PendingTx:
    """A sent transaction. `wait()` returns its receipt or raises the decoded revert / failure."""

    sender: "TxSender"
    tx_hash: HexBytes
    tx: dict[str, Any]
    ticket: Ticket | None = field(default=None, repr=False)
    #: the gas limit came from the gas book, not from an estimate of this call
    learned_gas: bool = False
    _receipt: Any = field(default=None, repr=False)

    def wait(self, timeout: float = 60.0) -> dict[str, Any]:
        return self.sender.wait(self, timeout)


class TxSender:
    """Sends contract transactions signed by one local account."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        nonces: NonceManager,
        decoder: ErrorDecoder,
        fees: FeePolicy = FeePolicy(),
        gas_margin_pct: int = 20,
        *,
        pipeline: Pipeline | None = None,
    ):
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.nonces = nonces
        self.decoder = decoder
        self.fees = fees
        self.gas_margin_pct = gas_margin_pct
        self.pipeline = pipeline or Pipeline.for_web3(w3, fees, gas=GasBook(gas_margin_pct))
        self._chain_id = self.pipeline.chain_id
        self._signer = TxSigner(account)

    # -- gas
    def estimate(self, to: str | None, data: bytes, block: str = "latest") -> int:
        """The node's gas estimate; a call that would revert raises its decoded Solidity error."""
        call = self._call_params(to, data)
        result = self._ask("eth_estimateGas", call, block,
                           lambda: self.w3.eth.estimate_gas({**call, "data": data, "value": 0}, block))
        return result if isinstance(result, int) else int(result, 16)

    def check(self, to: str | None, data: bytes, gas: int, block: str = "latest") -> None:
        """Run the call with `gas` (one EVM run, no estimation search); a revert raises its
        decoded error, running out of gas `TransactionFailed` or an empty `UnknownRevert`."""
        call = {**self._call_params(to, data), "gas": hex(gas)}
        self._ask("eth_call", call, block, lambda: self.w3.eth.call({**call, "data": data, "value": 0, "gas": gas}, block))

    def _ask(self, method: str, call: dict[str, Any], block: str, with_web3: Callable[[], Any]) -> Any:
        """`method(call, block)` over the raw transport (web3 without one), errors decoded."""
        rpc = self.pipeline.rpc
        if rpc is None:
            try:
                return with_web3()
            except Exception as exc:
                raise self._as_chain_error(exc) from None
        try:
            return rpc.call(method, [call, block])
        except RpcError as exc:
            decoded = self.decoder.from_rpc_error(exc.error)
            raise (decoded or TransactionFailed(f"{method} failed for {self.address}: {exc.message}")) from None

    def _call_params(self, to: str | None, data: bytes) -> dict[str, Any]:
        call: dict[str, Any] = {"from": self.address, "data": to_hex(data), "value": "0x0"}
        if to is not None:
            call["to"] = to
        return call

    def _check_block(self) -> str:
        mode = self.pipeline.precheck_block
        if mode != "auto":
            return mode
        watcher = self.pipeline.watcher
        return "pending" if watcher is not None and watcher.in_flight(self.address) else "latest"

    def _gas_for(self, to: str | None, data: bytes, precheck: bool) -> tuple[int, bool]:
        """(gas limit, whether it is a learned one rather than this call's own estimate).

        Without precheck a known operation takes the book's limit. With precheck and a known
        limit the call is run once at that limit (cheaper than an estimate's search): a revert
        with data raises; an empty revert or out-of-gas may just mean the limit is short, so the
        call is then estimated (which raises the revert if it is one). Unknown: estimated."""
        book = self.pipeline.gas
        key = gas_key(to, data)
        known = book.limit(key)
        if known is not None:
            if not precheck:
                return known, True
            block = self._check_block()
            try:
                self.check(to, data, known, block)
                return known, True
            except ContractRevert as exc:
                if not _maybe_out_of_gas(exc):
                    raise
            except TransactionFailed:
                pass
            return book.learn(key, self.estimate(to, data, block)), False
        return book.learn(key, self.estimate(to, data, self._check_block() if precheck else "latest")), False

    def _build(self, to: str | None, data: bytes | str, gas: int | None, precheck: bool) -> tuple[dict[str, Any], bool]:
        """The transaction without its nonce, and whether its gas limit is a learned one."""
        data = _as_bytes(data)
        tx: dict[str, Any] = {"from": self.address, "data": data, "value": 0, "chainId": self._chain_id}
        if to is not None:
            tx["to"] = to
        learned = False
        if gas is None:
            gas, learned = self._gas_for(to, data, precheck)
        tx["gas"] = gas
        tx.update(self.pipeline.fees.fields())
        return tx, learned

    # -- sending
    def submit_call(self, fn: Any, gas: int | None = None, *, precheck: bool = True) -> PendingTx:
        """Submit a bound contract function call, e.g. `contract.functions.mint(...)`."""
        return self.submit_raw(fn.address, fn._encode_transaction_data(), gas, precheck=precheck)

    def submit_raw(self, to: str | None, data: bytes | str, gas: int | None = None, *,
                   precheck: bool = True) -> PendingTx:
        """Sign and send; returns once the node accepted the transaction.

        ``precheck=True`` (the default) runs the call first (see `_gas_for`): a revert raises its
        decoded error and sends nothing. ``precheck=False`` uses the learned gas limit for the
        operation (the `GasBook`; estimated on a miss): no extra round trip, and a revert
        surfaces at `wait()` with the mined transaction's hash."""
        tx, learned = self._build(to, data, gas, precheck)
        lock = self.nonces.lock(self.address)
        sent_at = time.monotonic()
        with lock:
            for attempt in (1, 2):
                tx["nonce"] = self.nonces.peek(self.address)
                raw, tx_hash = self._signer.sign(tx)
                try:
                    self._send(raw)
                except (RpcError, Web3RPCError, ValueError) as exc:
                    message = _message(exc)
                    if any(k in message.lower() for k in ALREADY_KNOWN):
                        pass  # the node has these exact bytes (a retried request): accepted
                    elif attempt == 1 and any(k in message.lower() for k in NONCE_REFUSALS):
                        log.warning("nonce %s refused for %s (%s); resyncing", tx["nonce"], self.address, message)
                        self.nonces.resync(self.address)
                        continue
                    else:
                        raise TransactionFailed(f"node refused transaction from {self.address}: {message}",
                                                sender=self.address, nonce=tx["nonce"]) from exc
                except RpcUnavailable as exc:
                    # the node may or may not have it: read the nonce from the node next time
                    self.nonces.resync(self.address)
                    raise TransactionFailed(
                        f"could not reach the node to send transaction 0x{tx_hash.hex()} (nonce {tx['nonce']} of "
                        f"{self.address}); it may or may not have been accepted: {exc}",
                        tx_hash="0x" + tx_hash.hex(), sender=self.address, nonce=tx["nonce"]) from exc
                self.nonces.advance(self.address)
                break
        pending = PendingTx(self, HexBytes(tx_hash), tx, learned_gas=learned)
        watcher = self.pipeline.watcher
        if watcher is not None:
            pending.ticket = watcher.track(Ticket("0x" + tx_hash.hex(), raw, self.address, tx["nonce"],
                                                  filler=self._noop, sent_at=sent_at))
        listener = on_accepted.get()
        if listener is not None:
            listener("0x" + tx_hash.hex())
        return pending

    def _send(self, raw: bytes) -> None:
        sends = self.pipeline.sends
        if sends is None:
            self.w3.eth.send_raw_transaction(raw)
        else:
            sends.send(to_hex(raw))

    def _noop(self, nonce: int) -> bytes:
        """A signed zero-value transfer to self at `nonce` (fills a nonce gap)."""
        tx = {"to": self.address, "data": b"", "value": 0, "chainId": self._chain_id, "gas": 21_000,
              "nonce": nonce, **self.pipeline.fees.fields()}
        return self._signer.sign(tx)[0]

    def transact(self, fn: Any, gas: int | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Submit and wait; raises the decoded Solidity error if the transaction reverted."""
        return self.submit_call(fn, gas).wait(timeout)

    def deploy(self, abi: list, bytecode: str, *args: Any, gas: int | None = None) -> tuple[str, dict[str, Any]]:
        contract = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        data = contract.constructor(*args).data_in_transaction
        receipt = self.submit_raw(None, data, gas).wait()
        return receipt["contractAddress"], receipt

    # -- waiting
    def wait(self, pending: PendingTx, timeout: float = 60.0) -> dict[str, Any]:
        if pending._receipt is not None:
            return pending._receipt
        deadline = time.monotonic() + timeout
        receipt = self._receipt(pending, timeout)
        if receipt["status"] != 1:
            if self._resend_out_of_gas(pending, receipt):
                return self.wait(pending, max(0.0, deadline - time.monotonic()))
            raise replay_revert(self.w3, self.decoder, pending.tx, receipt)
        pending._receipt = receipt
        return receipt

    def _receipt(self, pending: PendingTx, timeout: float) -> dict[str, Any]:
        ticket = pending.ticket
        if ticket is None:
            return self.w3.eth.wait_for_transaction_receipt(pending.tx_hash, timeout=timeout, poll_latency=0.05)
        if not ticket.wait(timeout):
            raise TimeExhausted(f"Transaction {pending.tx_hash.to_0x_hex()} is not in the chain after {timeout} seconds")
        if ticket.error is not None:
            raise ticket.error
        return format_receipt(ticket.receipt)

    def _resend_out_of_gas(self, pending: PendingTx, receipt: dict[str, Any]) -> bool:
        """A call sent with a learned gas limit that used (almost) all of it: if the node now
        estimates more, learn that and send the call again (once); True if resent."""
        tx = pending.tx
        if not pending.learned_gas or receipt["gasUsed"] < tx["gas"] * OUT_OF_GAS_SHARE:
            return False
        to, data = tx.get("to"), tx["data"]
        try:
            estimate = self.estimate(to, data, self._check_block())
        except ContractRevert:
            return False  # it reverts anyway: report that transaction's own error
        limit = self.pipeline.gas.learn(gas_key(to, data), estimate)
        if estimate <= tx["gas"]:
            return False
        log.warning("transaction %s ran out of its learned gas limit %d (estimate now %d): sending it again with %d",
                    pending.tx_hash.to_0x_hex(), tx["gas"], estimate, limit)
        again = self.submit_raw(to, data, limit)
        pending.tx_hash, pending.tx, pending.ticket, pending.learned_gas = again.tx_hash, again.tx, again.ticket, False
        return True

    def _as_chain_error(self, exc: Exception) -> Exception:
        decoded = self.decoder.from_exception(exc)
        if decoded is not None:
            return decoded
        if isinstance(exc, (Web3RPCError, ValueError)):
            return TransactionFailed(str(exc))
        return exc


#: custom errors a contract raises when the gas it was given runs short (a gas-dependent check,
#: e.g. the oracle refusing to skip a named listener): a learned limit was too small for this call
GAS_SHORTAGE_ERRORS = frozenset({"InsufficientNotificationGas"})


def _maybe_out_of_gas(exc: ContractRevert) -> bool:
    """An empty revert (how a call that ran short of gas in a sub-call ends), a contract's own
    gas-shortage error, or eth-tester's "Out of gas" message turned into ``Error(reason)``."""
    if not exc.raw or exc.error_name in GAS_SHORTAGE_ERRORS:
        return True
    return exc.error_name == "Error" and "out of gas" in str(exc.args_by_name.get("reason", "")).lower()


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        return bytes.fromhex(data[2:] if data.startswith("0x") else data)
    return bytes(data)


def _message(exc: Exception) -> str:
    if isinstance(exc, RpcError):
        return exc.message
    if isinstance(exc, Web3RPCError) and isinstance(getattr(exc, "rpc_response", None), dict):
        err = exc.rpc_response.get("error")
        if isinstance(err, dict):
            return str(err.get("message", exc))
    return str(exc)


def replay_revert(w3: Web3, decoder: ErrorDecoder, tx: dict[str, Any], receipt: dict[str, Any]) -> ContractRevert:
    """Re-run a mined, reverted transaction as a call on its parent block to get its error."""
    call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
    tx_hash = receipt["transactionHash"].to_0x_hex()
    try:
        w3.eth.call(call, receipt["blockNumber"] - 1)
    except Exception as exc:
        decoded = decoder.from_exception(exc, tx_hash)
        if decoded is not None:
            return decoded
        raise
    return decoder.decode(b"", tx_hash)
