"""Known gas limits per operation, learned from the node's estimates.

Estimating a transaction's gas makes the node execute it (a round trip plus an EVM run, about a
third of the cost of a write). An operation's cost varies a little with its arguments (a new
holder's balance slot, a longer string), so the book keeps, per (contract address, 4-byte
selector), the largest estimate seen and hands out that plus a margin. The sender estimates only
on a miss or when the caller asks for a revert check before sending (``precheck``); a learned
limit that turns out too small for some call runs out of gas on chain, and the sender then
re-estimates, learns the larger figure and sends the call again (see ``chain.tx``).

Deployments (no `to`) are never booked: every init code starts with the same bytes.
"""

from __future__ import annotations

import threading

GasKey = tuple[str, bytes]


def gas_key(to: str | None, data: bytes) -> GasKey | None:
    """The book's key of a call, or None for a deployment or a call without a selector."""
    if to is None or len(data) < 4:
        return None
    return to.lower(), bytes(data[:4])


class GasBook:
    """Thread-safe map (contract, selector) -> largest gas estimate seen."""

    def __init__(self, margin_pct: int = 20):
        self.margin_pct = margin_pct
        self._max: dict[GasKey, int] = {}
        self._lock = threading.Lock()

    def with_margin(self, gas: int) -> int:
        return gas * (100 + self.margin_pct) // 100

    def limit(self, key: GasKey | None) -> int | None:
        """The gas limit to send `key`'s operation with, or None if it was never estimated."""
        if key is None:
            return None
        known = self._max.get(key)
        return None if known is None else self.with_margin(known)

    def learn(self, key: GasKey | None, estimate: int) -> int:
        """Records an estimate; returns the limit to use (the book's, or this one's with margin)."""
        if key is None:
            return self.with_margin(estimate)
        with self._lock:
            known = max(self._max.get(key, 0), estimate)
            self._max[key] = known
        return self.with_margin(known)

    def known(self, key: GasKey) -> int | None:
        """The largest estimate seen for `key` (without margin)."""
        return self._max.get(key)

    def forget(self, key: GasKey | None = None) -> None:
        with self._lock:
            if key is None:
                self._max.clear()
            else:
                self._max.pop(key, None)
