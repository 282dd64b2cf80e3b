"""Members as the participant registry says, read from the chain once per change instead of once
per request (issue 15, reads).

Every request names its caller's member record (roles, standing, KYC expiry): the node used to
read it with one ``eth_call`` per request. :class:`MemberCache` keeps the records it read, and a
follower thread watches the chain's head (one ``eth_getBlockByNumber`` per poll, every
``poll_interval`` seconds) and, for each new block, the registry's logs in it (one
``eth_getLogs`` by block hash). A block with any registry event (a role granted or revoked, a
member suspended, reinstated, sanctioned, its KYC renewed, its name changed), a reorganisation,
a revert of the chain, or a head that jumped several blocks drops every kept record.

So **a role revoked, a suspension or a sanction takes effect at the node within one block**: at
the first poll after the block that holds it (``poll_interval`` after the block at most), the
same moment the chain starts refusing that member's transactions. Rules on chain never depend on
this cache: the contracts check roles themselves on every transaction.

When the follower has not seen the head for ``max_age`` seconds (the node unreachable, the thread
just started), nothing kept is used: each request reads the chain as before. A record read while
a block with a registry event arrived is not kept (the generation it was read under has passed).
At most ``max_entries`` records are kept (then it starts again). The follower stops after
``idle_exit`` seconds without a request and starts again with the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from chain.clients import Member
from chain.rpc import Rpc

log = logging.getLogger(__name__)


class MemberCache:
    """The registry's member records, kept while no block changed them (see the module)."""

    def __init__(self, rpc: Rpc, registry: str, read: Callable[[str], Member], *, poll_interval: float = 0.1,
                 max_age: float = 2.0, max_entries: int = 100_000, idle_exit: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, follow: bool = True):
        """`follow=False`: no follower thread; whoever holds the cache calls `poll_once` (tests)."""
        self.rpc, self.registry, self.read = rpc, registry.lower(), read
        self.poll_interval, self.max_age, self.max_entries, self.idle_exit = poll_interval, max_age, max_entries, idle_exit
        self.clock, self.follow = clock, follow
        self._members: dict[str, tuple[int, Member]] = {}
        self._generation = 0  # moves when a block may have changed a member: kept records of older ones are void
        self._head: tuple[int, str] | None = None  # (number, hash) the follower saw last
        self._seen_at: float | None = None  # clock() when the poll that saw it started
        self._used_at = clock()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.reads = 0  # records read from the chain (the test counts them)

    def member(self, address: str) -> Member:
        self._used_at = self.clock()
        self._follow()
        if not self.fresh():
            self.reads += 1
            return self.read(address)
        generation = self._generation
        kept = self._members.get(address)
        if kept is not None and kept[0] == generation:
            return kept[1]
        self.reads += 1
        member = self.read(address)
        with self._lock:
            if generation == self._generation:  # no block changed the registry while it was read
                if len(self._members) >= self.max_entries:
                    self._members.clear()
                self._members[address] = (generation, member)
        return member

    def fresh(self) -> bool:
        """Whether the follower saw the chain's head within `max_age` seconds."""
        seen = self._seen_at
        return seen is not None and self.clock() - seen <= self.max_age

    def poll_once(self) -> None:
        """One look at the head: drops the kept records when a new block holds a registry event,
        or when the head moved other than by one block on top of the last one."""
        started = self.clock()
        latest = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if not isinstance(latest, dict):
            raise ValueError(f"no latest block: {latest!r}")
        number, block_hash, parent = int(latest["number"], 16), latest["hash"], latest["parentHash"]
        prev = self._head
        if prev is not None and (number, block_hash) == prev:
            changed = False
        elif prev is not None and number == prev[0] + 1 and parent == prev[1]:
            changed = bool(self.rpc.call("eth_getLogs", [{"blockHash": block_hash, "address": self.registry}]))
        else:  # the first look, a reorganisation, a revert, or several blocks at once
            changed = True
        if changed:
            self._invalidate()
        self._head = (number, block_hash)
        self._seen_at = started

    def _invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._members.clear()

    # ------------------------------------------------------------------ follower thread
    def _follow(self) -> None:
        if not self.follow:
            return
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._seen_at = None  # nothing kept is used until the follower has looked again
                    self._generation += 1
                    self._members.clear()
                    self._thread = threading.Thread(target=self._run, name="member-follower", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        last_error = 0.0
        while self.clock() - self._used_at <= self.idle_exit:
            started = self.clock()
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the node is down or answering garbage: reads go to the chain
                self._seen_at = None
                if started - last_error > 10:
                    log.warning("member follower: %s: %s (members are read from the chain meanwhile)",
                                type(exc).__name__, exc)
                    last_error = started
            time.sleep(max(0.0, self.poll_interval - (self.clock() - started)))
        with self._lock:
            self._thread = None
            self._seen_at = None

    def stats(self) -> dict[str, Any]:
        return {"kept": len(self._members), "generation": self._generation, "fresh": self.fresh(),
                "reads": self.reads}
