"""Mining control and RPC accounting for the submission-pipeline tests (plain helpers over the
session anvil and a `Chain`)."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any, Callable, Iterator

from chain.anvil import Anvil
from chain.client import Chain


@contextlib.contextmanager
def manual_mining(anvil: Anvil) -> Iterator[None]:
    """Automine off inside the block (transactions wait in the pool until `anvil.mine`); a
    snapshot revert does not restore the mining mode, so this does."""
    anvil.rpc("evm_setAutomine", [False])
    try:
        yield
    finally:
        anvil.rpc("evm_setAutomine", [True])


def revert_to(w3: Any, snap: str) -> None:
    """Revert anvil to snapshot `snap` and bring its clock back to the wall clock. anvil's revert
    also restores the snapshot's time, so without this the chain falls behind the wall clock by
    every reverted test's duration; after several minutes a carrier event (stamped by the wall
    clock) lies beyond the oracle's future-skew bound (5 minutes) and every report is refused.
    A live network makes blocks all the time; the session chain gets one after each revert."""
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    latest = int(w3.provider.make_request("eth_getBlockByNumber", ["latest", False])["result"]["timestamp"], 16)
    w3.provider.make_request("anvil_setTime", [max(int(time.time()), latest)])
    # and a block at that time: a call or estimate runs on the latest block's timestamp (an oracle
    # operator's pre-check of a report), which would otherwise stay at the snapshot's
    w3.provider.make_request("evm_mine", [])


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
               between: Callable[[], Any] | None = None, pause: float = 0.005) -> Any:
    """Poll `predicate()` until it holds (calling `between` after each miss)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if between is not None:
            between()
        time.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


def mine_until(anvil: Anvil, predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Mine a block every 50 ms until `predicate()` holds (the watcher acts on stale transactions
    only after some blocks and some time, and confirms each finding at a later block)."""
    return wait_until(predicate, timeout, what, between=lambda: anvil.mine(1), pause=0.05)


def seen_by_watcher(pending: Any) -> None:
    """Block until the receipt watcher has looked at `pending` once (its blocks count from there)."""
    wait_until(lambda: pending.ticket.sent_block is not None, what="the watcher to see the transaction")


class RpcLog:
    """Counts the JSON-RPC methods a chain's transport sends (single calls and batch items)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.batches: list[list[tuple[str, Any]]] = []

    def attach(self, chain: Chain, monkeypatch: Any) -> "RpcLog":
        targets = {id(chain.rpc): chain.rpc}
        watcher = chain.pipeline.watcher
        if watcher is not None:
            targets[id(watcher.rpc)] = watcher.rpc
        for rpc in targets.values():
            call, batch = rpc.call, rpc.batch

            def counted_call(method: str, params: Any = (), _call: Any = call) -> Any:
                self.calls[method] += 1
                return _call(method, params)

            def counted_batch(calls: Any, _batch: Any = batch) -> Any:
                self.batches.append(list(calls))
                return _batch(calls)

            monkeypatch.setattr(rpc, "call", counted_call)
            monkeypatch.setattr(rpc, "batch", counted_batch)
        return self

    def batched(self, method: str) -> int:
        return sum(1 for b in self.batches for m, _ in b if m == method)
