"""Asynchronous writes: ``Prefer: respond-async`` (RFC 7240) on any write of a participant.

By default a write answers once its transactions are in a block, with what they did (the
invoice id, the deal id, the receipt). It runs in the node's write threads (``async_write_threads``
of them, shared with the asynchronous writes below; beyond, writes queue), and the request awaits
it on the event loop: no thread that serves requests waits for a block, so reads and the writes
that send nothing are not queued behind writes. A client that asks ``Prefer: respond-async`` gets its
answer as soon as the node has accepted the write's first transaction instead:

``202 Accepted`` with ``{operation_id, state: "pending", tx_hash, status_url}``, a ``Location``
header naming ``GET /operations/{id}`` and ``Preference-Applied: respond-async``. The write goes on
in the node (a multi-step write, such as an approval and the payment that spends it, sends its
later transactions there); ``GET /operations/{id}`` then answers ``pending``, ``succeeded`` with
the status code and body the write would have answered, or ``failed`` with its problem body.

What stays synchronous, whatever the preference:

- a write refused before anything is sent (bad input, a role it lacks, a contract refusal found
  by the pre-check): it answers its 4xx problem at once, as without the preference;
- writes that send nothing to the chain (log-in, documents, term previews and signatures) and
  the relay of a participant's own signed transaction (it already answers at acceptance).

A write that has sent nothing after ``ACCEPT_WAIT`` seconds (it waits for the same account's
previous payment to spend its approval, or for a slow node) answers 202 without a ``tx_hash``;
its outcome, a refusal included, is then the operation's.

Rules: only the participant who sent a write can read its operation (another gets 404). At most
``async_write_threads`` writes run at once, and at most ``async_operations_per_member`` of one
member (beyond: 503 with ``Retry-After``): each running write holds one of the node's threads
until its last block (not a thread that serves requests). A finished operation stays readable
for ``operation_retention_seconds``, and the node keeps at most ``MAX_KEPT`` (the oldest finished
go first). Operations live in the node's memory: a node restart forgets them (the transactions
themselves are on chain: look them up by hash). A node with several API processes
(``tradenet node --workers N``) also writes each operation it answered 202 to its database, as it
answers and as the write ends, so any process answers its ``GET``; there a pending operation
lists the transactions accepted before the 202, its end all of them; the bounds above count each
process's writes.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import secrets
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Literal

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from chain.indexer.db import writing
from chain.problems import Problem, ProblemError
from chain.tx import on_accepted

from .context import Caller
from .responses import MaskedJSONResponse
from .store import operations as table

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: writes that stay synchronous: they send no transaction, or answer at acceptance already
SYNCHRONOUS_PREFIXES = ("/auth/", "/documents", "/tx/relay", "/operations")
SYNCHRONOUS_PATHS = frozenset({"/deals/terms/preview", "/deals/terms/signature", "/agreements/preview"})
#: seconds a request waits for its write's first accepted transaction before answering 202 anyway
ACCEPT_WAIT = 10.0
#: finished operations kept at most (the oldest go first)
MAX_KEPT = 10_000

#: the scope of the write request being served, when it asked for an asynchronous answer
_request_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("async_write_scope", default=None)


class AcceptedOut(BaseModel):
    """The answer of a write sent with ``Prefer: respond-async`` (status 202)."""

    operation_id: str
    state: Literal["pending"]
    tx_hash: str | None  # the write's first transaction, accepted by the node (None: not sent yet)
    status_url: str  # GET it for the write's answer


class TooManyOperations(ProblemError):
    status = 503
    code = "too_many_operations"
    title = "Too many writes in flight"
    retry_after: ClassVar[int] = 2


class NodeStopping(ProblemError):
    status = 503
    code = "node_stopping"
    title = "Node stopping"
    retry_after: ClassVar[int] = 5


@dataclass
class Operation:
    id: str
    owner: str
    method: str
    path: str
    created_at: float
    state: str = "pending"  # pending | succeeded | failed; set last when the operation finishes
    tx_hashes: list[str] = field(default_factory=list)
    status_code: int | None = None
    body: Any = None  # the answer's body: the result (succeeded) or the problem (failed)
    finished_at: float | None = None

    def view(self) -> dict[str, Any]:
        state = self.state  # read first: the other fields are complete once it is not pending
        return {"operation_id": self.id, "state": state, "method": self.method, "path": self.path,
                "tx_hashes": list(self.tx_hashes), "status_code": None if state == "pending" else self.status_code,
                "result": self.body if state == "succeeded" else None,
                "problem": self.body if state == "failed" else None,
                "created_at": int(self.created_at),
                "finished_at": None if state == "pending" or self.finished_at is None else int(self.finished_at)}


class OperationStore:
    """The node's operations: running ones bounded (in all and per member), finished ones kept
    for `retention_seconds` and at most `max_kept` of them."""

    def __init__(self, max_running: int, retention_seconds: float, max_per_owner: int | None = None,
                 max_kept: int = MAX_KEPT, clock: Callable[[], float] = time.time, shared: Engine | None = None):
        """`shared`: the node's database, when the node runs several API processes: an operation
        answered 202 is written there as it is answered and as it ends, so another process finds it
        (the bounds stay this process's)."""
        self.shared = shared
        self.max_running = max_running
        self.max_per_owner = max_per_owner or max_running
        self.retention_seconds = retention_seconds
        self.max_kept = max_kept
        self.clock = clock
        self._ops: dict[str, Operation] = {}
        self._finished: deque[str] = deque()  # ids in the order they finished
        self._running_of: dict[str, int] = {}
        self._running = 0
        self._lock = threading.Lock()

    def open(self, owner: str, method: str, path: str) -> Operation:
        owner = owner.lower()
        with self._lock:
            self._expire()
            if self._running >= self.max_running:
                raise TooManyOperations(f"{self._running} writes are running on this node (at most "
                                        f"{self.max_running}): retry shortly, or send this one without "
                                        "Prefer: respond-async")
            mine = self._running_of.get(owner, 0)
            if mine >= self.max_per_owner:
                raise TooManyOperations(f"{mine} of your writes are still running (at most {self.max_per_owner} "
                                        "at once): retry when one has finished")
            op = Operation(secrets.token_hex(16), owner, method, path, self.clock())
            self._ops[op.id] = op
            self._running += 1
            self._running_of[owner] = mine + 1
            return op

    def finish(self, op: Operation, state: str, status_code: int, body: Any) -> None:
        with self._lock:
            if op.state != "pending":
                return
            op.status_code, op.body, op.finished_at = status_code, body, self.clock()
            op.state = state  # last: a reader that sees it finished sees the rest
            self._release(op)
            self._finished.append(op.id)
            self._expire()
            view = op.view()
        if self.shared is not None:
            try:
                self._write(op, view, finished=True)
            except Exception:  # noqa: BLE001 - this process still answers it; the others would say pending
                log.exception("operation %s: its end could not be written to the node's database", op.id)

    def share(self, op: Operation) -> None:
        """Write a pending operation that was answered 202 to the node's database (several
        processes); it may have ended already (then its end is there and stays)."""
        if self.shared is not None:
            with self._lock:
                view = op.view()
            self._write(op, view, finished=view["state"] != "pending")

    def _write(self, op: Operation, view: dict[str, Any], finished: bool) -> None:
        row = {"owner": op.owner, "view": view, "finished_at": int(op.finished_at or 0) if finished else None}
        for _ in range(2):
            try:
                with writing(self.shared) as c:
                    exists = c.execute(select(table.c.finished_at).where(table.c.id == op.id)).first()
                    if exists is None:
                        c.execute(insert(table).values(id=op.id, **row))
                    elif finished:  # an end replaces the pending row, never the other way round
                        c.execute(update(table).where(table.c.id == op.id).values(**row))
                    if finished:
                        horizon = int(self.clock() - self.retention_seconds)
                        c.execute(delete(table).where(table.c.finished_at < horizon))
                return
            except IntegrityError:  # the other writer of this operation inserted it first: update it
                continue

    def _shared_view(self, owner: str, operation_id: str) -> dict[str, Any] | None:
        with self.shared.connect() as c:  # type: ignore[union-attr]
            row = c.execute(select(table.c.owner, table.c.view, table.c.finished_at)
                            .where(table.c.id == operation_id)).first()
        if row is None or row.owner != owner.lower():
            return None
        if row.finished_at is not None and self.clock() - row.finished_at > self.retention_seconds:
            return None
        return dict(row.view)

    def discard(self, op: Operation) -> None:
        """An operation answered synchronously after all (nothing was sent), or never started."""
        with self._lock:
            if self._ops.pop(op.id, None) is not None and op.state == "pending":
                self._release(op)

    def get(self, owner: str, operation_id: str) -> dict[str, Any] | None:
        """The operation's view (taken under the lock), if `owner` sent it and it is still kept."""
        with self._lock:
            self._expire()
            op = self._ops.get(operation_id)
            if op is not None:
                return op.view() if op.owner == owner.lower() else None
        return self._shared_view(owner, operation_id) if self.shared is not None else None

    @property
    def running(self) -> int:
        return self._running

    def _release(self, op: Operation) -> None:
        self._running -= 1
        left = self._running_of.get(op.owner, 1) - 1
        if left:
            self._running_of[op.owner] = left
        else:
            self._running_of.pop(op.owner, None)

    def _expire(self) -> None:
        now = self.clock()
        while self._finished:
            oldest = self._ops.get(self._finished[0])
            too_many = len(self._ops) > self.max_kept
            if oldest is not None and not too_many and now - (oldest.finished_at or now) <= self.retention_seconds:
                break
            self._finished.popleft()
            if oldest is not None:
                del self._ops[oldest.id]


@dataclass
class AsyncWrites:
    """Runs a write in the node's threads and answers at its first accepted transaction."""

    app: FastAPI
    store: OperationStore
    executor: ThreadPoolExecutor
    accept_wait: float = ACCEPT_WAIT
    _adapters: dict[int, TypeAdapter[Any]] = field(default_factory=dict, repr=False)

    def run(self, route: APIRoute, call: Callable[..., Any], kwargs: dict[str, Any], scope: Scope) -> Any:
        caller = next((v for v in kwargs.values() if isinstance(v, Caller)), None)
        if caller is None:
            return call(**kwargs)
        op = self.store.open(caller.address, scope["method"], scope["path"])
        lock = threading.Lock()
        ready = threading.Event()  # a transaction was accepted, or the write ended
        outcome: dict[str, Any] = {}  # the write's own answer, if it ended before anything was sent
        detached = [False]  # the request answered 202: the outcome is the operation's

        def accepted(tx_hash: str) -> None:
            with lock:
                op.tx_hashes.append(tx_hash)
                detached[0] = True
            ready.set()

        def end(state: str, answer: Callable[[], tuple[int, Any]], synchronous: dict[str, Any]) -> None:
            with lock:
                if not detached[0]:
                    outcome.update(synchronous)
                    ready.set()
                    return
            self.store.finish(op, state, *answer())

        def work() -> None:
            token = on_accepted.set(accepted)
            try:
                try:
                    result = call(**kwargs)
                except BaseException as exc:  # noqa: BLE001 - every failure is the write's answer
                    end("failed", lambda: self._problem(scope, exc), {"error": exc})
                else:
                    end("succeeded", lambda: self._result(route, result), {"result": result})
            except BaseException as exc:  # noqa: BLE001 - rendering the answer failed: the operation still ends
                log.exception("asynchronous write %s %s", scope["method"], scope["path"])
                self.store.finish(op, "failed", *self._internal(exc))
            finally:
                on_accepted.reset(token)
                ready.set()

        try:
            self.executor.submit(contextvars.copy_context().run, work)
        except BaseException:
            self.store.discard(op)
            raise
        ready.wait(self.accept_wait)
        with lock:
            if outcome:  # it ended before sending anything: answer as a synchronous write
                synchronous = True
            else:
                synchronous, detached[0] = False, True
        if synchronous:
            self.store.discard(op)
            if "error" in outcome:
                raise outcome["error"]
            return outcome["result"]
        self.store.share(op)  # another process of the node answers GET /operations/{id} too
        status_url = f"{scope.get('root_path', '')}/operations/{op.id}"
        body = AcceptedOut(operation_id=op.id, state="pending", status_url=status_url,
                           tx_hash=op.tx_hashes[0] if op.tx_hashes else None)
        return MaskedJSONResponse(body.model_dump(), status_code=202,
                                  headers={"Location": status_url, "Preference-Applied": "respond-async"})

    async def until_done(self, call: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """A write answered synchronously: it runs in the node's write threads and the request
        awaits its end without holding a request thread (a read or a terms signature is not queued
        behind writes waiting for their blocks). Its answer or its error is the request's; a
        client that goes away does not stop it (what was sent is carried to its block)."""
        try:
            future = self.executor.submit(contextvars.copy_context().run, functools.partial(call, **kwargs))
        except RuntimeError:  # the executor is shut down: the node is stopping
            raise NodeStopping("the node is stopping: nothing was sent; send the write again to a running node") from None
        try:
            return await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            if future.cancelled():  # still queued when the node stopped: it never ran
                raise NodeStopping("the node stopped before this write ran: nothing was sent; send it again") from None
            raise

    def close(self) -> None:
        """No new writes; those running finish in their threads."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _result(self, route: APIRoute, result: Any) -> tuple[int, Any]:
        status = route.status_code or 200
        if route.response_model is None:
            return status, jsonable_encoder(result)
        adapter = self._adapters.get(id(route))
        if adapter is None:
            adapter = self._adapters[id(route)] = TypeAdapter(route.response_model)
        value = adapter.validate_python(result, from_attributes=True)
        return status, adapter.dump_python(value, mode="json", by_alias=route.response_model_by_alias)

    def _problem(self, scope: Scope, exc: BaseException) -> tuple[int, Any]:
        """The problem body the API's exception handlers (node_api.problems) give `exc`."""
        handler = next((self.app.exception_handlers[k] for k in type(exc).__mro__
                        if k in self.app.exception_handlers and k not in (Exception, BaseException)), None)
        if handler is not None:
            try:
                response = handler(Request(scope), exc)
                if inspect.isawaitable(response):
                    response = asyncio.run(response)
                return response.status_code, json.loads(response.body)
            except Exception:  # noqa: BLE001
                log.exception("problem body for %s failed", type(exc).__name__)
        log.error("asynchronous write %s %s failed", scope["method"], scope["path"], exc_info=exc)
        return self._internal(exc)

    @staticmethod
    def _internal(exc: BaseException) -> tuple[int, Any]:
        return 500, Problem.of(500, "internal", "Internal error", "the write failed inside the node; the "
                               "transactions it sent are listed with the operation").body()


def wants_async(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"prefer" and any(p.strip().split(b"=")[0].strip().lower() == b"respond-async"
                                     for p in value.split(b",")[:16]):
            return True
    return False


def install(app: FastAPI, store: OperationStore, threads: int) -> AsyncWrites:
    """Asynchronous writes for `app`: its write routes answer 202 when asked (wrapped once: the
    routers are module-level, shared by every app), each request's scope is remembered for them."""
    writes = AsyncWrites(app, store, ThreadPoolExecutor(max_workers=threads, thread_name_prefix="async-write"))
    app.state.async_writes = writes
    own = {id(r) for r in app.router.routes if isinstance(r, APIRoute)}
    for route in _api_routes(app.router.routes):
        if not (set(route.methods) & WRITE_METHODS) or route.path.startswith(SYNCHRONOUS_PREFIXES) \
                or route.path in SYNCHRONOUS_PATHS or inspect.iscoroutinefunction(route.endpoint):
            continue
        if id(route) in own:
            # a route of the app itself: FastAPI built its handler already and decided then that the
            # endpoint is synchronous; an async wrapper would be called in a thread and never awaited
            log.warning("write route %s %s is declared on the app, not in a router: it stays synchronous, "
                        "without Prefer: respond-async", sorted(route.methods), route.path)
            continue
        if not getattr(route.endpoint, "_async_write", False):
            # FastAPI builds an included router's handlers from route.endpoint when it first routes
            # to them (functools.wraps keeps the signature it reads the parameters from)
            route.endpoint = route.dependant.call = _wrapped(route, route.endpoint)
        route.responses.setdefault(202, {"model": AcceptedOut, "description": (
            "Accepted (sent with `Prefer: respond-async`): the write's first transaction is with the node; "
            "its answer follows at `status_url` (GET /operations/{operation_id})")})
    app.add_middleware(_RememberScope)
    return writes


class _RememberScope:
    def __init__(self, inner: ASGIApp):
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITE_METHODS:
            token = _request_scope.set(scope)
            try:
                await self.inner(scope, receive, send)
            finally:
                _request_scope.reset(token)
        else:
            await self.inner(scope, receive, send)


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    """The API routes of the app, those of included routers too (FastAPI >= 0.150 nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _wrapped(route: APIRoute, call: Callable[..., Any]) -> Callable[..., Any]:
    # A coroutine: FastAPI awaits it on the event loop. The write itself runs in the node's write
    # threads; a synchronous answer is awaited there without a request thread (those serve reads).
    @functools.wraps(call)
    async def endpoint(**kwargs: Any) -> Any:
        scope = _request_scope.get()
        writes = getattr(scope["app"].state, "async_writes", None) if scope is not None else None
        if writes is None:
            return await run_in_threadpool(call, **kwargs)
        if wants_async(scope):  # waits at most accept_wait for the first acceptance: a request thread
            return await run_in_threadpool(writes.run, route, call, kwargs, scope)
        return await writes.until_done(call, kwargs)

    endpoint._async_write = True  # type: ignore[attr-defined]
    return endpoint
