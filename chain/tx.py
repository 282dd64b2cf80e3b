"""Signing and sending transactions from local keys, with many in flight per account.

`NonceManager` hands out nonces per account from a local counter seeded with the node's pending
count. `TxSender.submit` estimates gas first (no nonce is taken for a call that would revert),
then takes the nonce, signs and sends under the account's lock, so nonces reach the node in order
and a refused send gives its nonce back: no gap, no collision, whatever number of threads submit.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import Web3RPCError

from .errors import ContractRevert, ErrorDecoder, TransactionFailed

log = logging.getLogger(__name__)


class NonceManager:
    """Per-account nonce counters shared by every sender on one connection."""

    def __init__(self, w3: Web3):
        self._w3 = w3
        self._next: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, address: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(address, threading.Lock())

    def peek(self, address: str) -> int:
        """Next nonce for `address`; caller holds `lock(address)`."""
        if address not in self._next:
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


@dataclass(frozen=True)
class FeePolicy:
    """How to price transactions: EIP-1559 from the node's base fee, or a fixed legacy price
    (0 on free-gas permissioned networks such as a Besu consortium chain)."""

    mode: str = "eip1559"  # or "legacy"
    legacy_gas_price: int = 0
    priority_fee: int = 0

    def fields(self, w3: Web3) -> dict[str, int]:
        if self.mode == "legacy":
            return {"gasPrice": self.legacy_gas_price}
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        return {"maxFeePerGas": 2 * base + self.priority_fee, "maxPriorityFeePerGas": self.priority_fee}


@dataclass
class PendingTx:
    sender: "TxSender"
    tx_hash: HexBytes
    tx: dict[str, Any]

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
    ):
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.nonces = nonces
        self.decoder = decoder
        self.fees = fees
        self.gas_margin_pct = gas_margin_pct
        self._chain_id = w3.eth.chain_id

    # -- building
    def _base_tx(self, to: str | None, data: bytes | str, gas: int | None) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": self.address, "data": data, "value": 0, "chainId": self._chain_id}
        if to is not None:
            tx["to"] = to
        if gas is None:
            try:
                gas = self.w3.eth.estimate_gas(tx)
            except Exception as exc:
                raise self._as_chain_error(exc) from None
            gas = gas * (100 + self.gas_margin_pct) // 100
        tx["gas"] = gas
        tx.update(self.fees.fields(self.w3))
        return tx

    def submit_call(self, fn: Any, gas: int | None = None) -> PendingTx:
        """Submit a bound contract function call, e.g. `contract.functions.mint(...)`."""
        return self.submit_raw(fn.address, fn._encode_transaction_data(), gas)

    def submit_raw(self, to: str | None, data: bytes | str, gas: int | None = None) -> PendingTx:
        tx = self._base_tx(to, data, gas)
        lock = self.nonces.lock(self.address)
        with lock:
            for attempt in (1, 2):
                tx["nonce"] = self.nonces.peek(self.address)
                signed = self.account.sign_transaction(tx)
                try:
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except (Web3RPCError, ValueError) as exc:
                    if attempt == 1 and "nonce" in str(exc).lower():
                        log.warning("nonce %s refused for %s (%s); resyncing", tx["nonce"], self.address, exc)
                        self.nonces._next.pop(self.address, None)
                        continue
                    raise TransactionFailed(f"node refused transaction from {self.address}: {exc}") from exc
                self.nonces.advance(self.address)
                return PendingTx(self, HexBytes(tx_hash), tx)
        raise TransactionFailed("unreachable")  # pragma: no cover

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
        receipt = self.w3.eth.wait_for_transaction_receipt(pending.tx_hash, timeout=timeout, poll_latency=0.05)
        if receipt["status"] != 1:
            raise replay_revert(self.w3, self.decoder, pending.tx, receipt)
        return receipt

    def _as_chain_error(self, exc: Exception) -> Exception:
        decoded = self.decoder.from_exception(exc)
        if decoded is not None:
            return decoded
        if isinstance(exc, (Web3RPCError, ValueError)):
            return TransactionFailed(str(exc))
        return exc


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


def wait_all(pending: list[PendingTx], timeout: float = 120.0) -> list[dict[str, Any]]:
    return [p.wait(timeout) for p in pending]


def poll_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
