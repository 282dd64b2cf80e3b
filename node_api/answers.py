"""Answers of list routes kept while nothing they show can have changed (issue 15, reads).

A list answer (``GET /invoices``, ``/deals``, ...) is a function of: the caller (its address and
its member record: roles, standing, as the chain says within one block, node_api.members), the route
and its exact query string, the read model, and, for the answers that show it, the chain's
clock. The read model changes only by a commit: the indexer's (a block applied) or the node's own
(offers, agreements, B/L references). So an answer is rendered once and served again while its
key holds:

    (method, route, query string, caller, commit generation, indexed heads[, chain time])

- the **commit generation** counts the commits of every SQLAlchemy engine in this process
  (the node's and its indexer's). It moves twice per commit: when the commit starts and once
  its connection is back in the pool (the data visible), so an answer computed while a commit
  was in flight is filed under a generation that has already passed;
- the **indexed heads** (each indexer's checkpoint: block number and hash, one small query)
  cover an indexer in another process writing the same database, its rollbacks included, and
  with them the node's own revision (node_api.store.node_writing: an offer, an agreement or a
  reference written by another API process of the node, ``--workers N``);
- the **chain time** is part of the key for routes whose answers read the clock (``ChainNow``:
  the route and the key use the same value of one request).

When a key's answer is being computed, other requests for the same key wait for it (up to
``FLIGHT_WAIT_SECONDS``, holding no thread) instead of computing it again: after each block,
one request per caller and query pays for the page, not every client at once.

So nothing is served that the route itself would not answer at that moment, and a revoked role,
a suspension or a sanction takes effect within one block, as for every route (the member record
is in the key, and the standing check runs before the answer is looked up). Only 200 answers are kept; at most
``entries`` of them and ``max_bytes`` in all, least recently used out first; ``entries = 0``
turns the cache off (``TRADENET_ANSWER_CACHE_ENTRIES``).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Annotated, Any, Hashable

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deps import CallerDep, Ctx
from .read_model import ReadModel

_STATE_KEY = "tradenet_answer_key"
#: how long a request waits for the same answer being computed by another before computing it too
FLIGHT_WAIT_SECONDS = 2.0
_COMMITTED = "tradenet_committed"

# ----------------------------------------------------------------------------- commit generation
_generation = 0
_generation_lock = threading.Lock()  # two commits at once: it only ever moves forward


def generation() -> int:
    """Moves at the start of every commit in this process and again once it is visible."""
    return _generation


def _bump() -> None:
    global _generation
    with _generation_lock:
        _generation += 1


@event.listens_for(Engine, "commit")
def _commit_started(conn: Connection) -> None:
    _bump()
    conn.connection.info[_COMMITTED] = True  # the pool record: bumped again when it comes back


@event.listens_for(Pool, "checkin")
def _commit_visible(dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(_COMMITTED, False):
        _bump()


# ----------------------------------------------------------------------------- the cache
class AnswerCache:
    """Rendered 200 answers by key; bounded by count and bytes (LRU). Thread-safe."""

    def __init__(self, entries: int, max_bytes: int):
        self.entries, self.max_bytes = entries, max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._flights: dict[Hashable, asyncio.Event] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.entries > 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return body

    def flight(self, key: Hashable) -> asyncio.Event | None:
        """None: the caller computes `key`'s answer (and must `land` it); else the event that
        is set once the request computing it has answered (call in the event loop)."""
        with self._lock:
            event = self._flights.get(key)
            if event is None:
                self._flights[key] = asyncio.Event()
            return event

    def land(self, key: Hashable) -> None:
        """The answer of `key` is kept (or will not be): wake the requests waiting for it."""
        with self._lock:
            event = self._flights.pop(key, None)
        if event is not None:
            event.set()

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:  # one answer never takes more than an eighth
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = body
            self._bytes += len(body)
            while len(self._items) > self.entries or self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)


class KeptAnswer(Exception):
    """Raised by the answer dependency on a hit: the handler sends the kept bytes (the route's
    other dependencies and its body are skipped)."""

    def __init__(self, body: bytes):
        super().__init__("kept answer")
        self.body = body


# ----------------------------------------------------------------------------- dependencies
def chain_now(ctx: Ctx) -> int:
    """The chain's clock for this request (one read, shared by the route and the answer key)."""
    return ctx.chain_time()


ChainNow = Annotated[int, Depends(chain_now)]


async def _look_up(request: Request, ctx: Any, caller: Any, clock: int | None) -> None:
    cache: AnswerCache | None = getattr(request.app.state, "answers", None)
    if cache is None or not cache.enabled or request.method != "GET":  # only GET answers are filed (_Keep)
        return
    route = request.scope.get("route")
    gen = generation()  # before the checkpoints: a commit between the two moves the generation
    heads = await run_in_threadpool(ReadModel(ctx.db).indexed_heads)
    key = (request.method, getattr(route, "path", request.url.path), request.scope.get("query_string", b""),
           caller, gen, heads, clock)
    for attempt in range(2):
        body = cache.get(key)
        if body is not None:
            raise KeptAnswer(body)
        flight = cache.flight(key)
        if flight is None:  # this request computes the answer; the same key's others wait for it
            request.scope.setdefault("state", {})[_STATE_KEY] = key
            return
        if attempt == 0:
            try:
                await asyncio.wait_for(flight.wait(), FLIGHT_WAIT_SECONDS)
            except asyncio.TimeoutError:
                return  # the first one is slow: compute it here too (not kept)


async def kept(request: Request, ctx: Ctx, caller: CallerDep) -> None:
    """For a list route whose answer reads only the read model."""
    await _look_up(request, ctx, caller, None)


async def kept_at_clock(request: Request, ctx: Ctx, caller: CallerDep, now: ChainNow) -> None:
    """For a list route whose answer also reads the chain's clock (the route takes ``ChainNow``)."""
    await _look_up(request, ctx, caller, now)


KEPT = Depends(kept)
KEPT_AT_CLOCK = Depends(kept_at_clock)


# ----------------------------------------------------------------------------- wiring
class _Keep:
    """Files the body of a 200 answer under the key its request's lookup left in the scope."""

    def __init__(self, app: ASGIApp, cache: AnswerCache):
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not self.cache.enabled:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status, chunks = 0, []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200 and _STATE_KEY in state:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    key = state.pop(_STATE_KEY)
                    self.cache.put(key, b"".join(chunks))
                    self.cache.land(key)
            await send(message)

        try:
            await self.app(scope, receive, send=keep)
        finally:  # not a 200, failed or cut off: the waiting requests compute their own
            key = state.pop(_STATE_KEY, None)
            if key is not None:
                self.cache.land(key)


def install(app: FastAPI, entries: int, max_bytes: int) -> AnswerCache:
    cache = AnswerCache(entries, max_bytes)
    app.state.answers = cache

    async def _send_kept(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeptAnswer)
        return Response(exc.body, media_type="application/json")

    app.add_exception_handler(KeptAnswer, _send_kept)
    app.add_middleware(_Keep, cache=cache)
    return cache


__all__ = ["AnswerCache", "ChainNow", "KEPT", "KEPT_AT_CLOCK", "KeptAnswer", "chain_now", "generation", "install"]
