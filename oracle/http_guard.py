"""What one HTTP request may cost an operator, enforced before any route runs (an ASGI middleware).

- **Concurrency**: at most ``max_concurrent`` requests are handled at once; one more is answered
  503 (``Retry-After: 1``) at once instead of queueing behind slow ones.
- **Body size, while streaming**: each route has a cap. A declared ``Content-Length`` over the cap
  is refused (413) before a byte of the body is read; a chunked body is counted chunk by chunk and
  refused as soon as the count passes the cap. Nothing beyond the cap (plus the one chunk that
  crossed it) is ever held in memory; the route receives the body once it is complete.
- **Slow bodies**: each chunk must arrive within ``read_timeout`` and the whole body within
  ``body_timeout``; otherwise 408. (The request head has its own deadline in ``oracle.http_server``.)

Refusals are the network's problem bodies (``chain.problems``) with ``Connection: close``: the
rest of an oversized or stalled body is never read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from chain.problems import MEDIA_TYPE, Problem

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DIGITS = re.compile(rb"[0-9]{1,20}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class GuardLimits:
    body_caps: Mapping[str, int]  # path -> cap in bytes; other paths get default_cap
    default_cap: int
    read_timeout: float
    body_timeout: float
    max_concurrent: int
    exempt_paths: frozenset[str] = frozenset({"/healthz"})


@dataclass
class GuardStats:
    """What the guard refused, by problem code (shown in ``/status``)."""

    refused: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0


class _Refused(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.headers = dict(headers or {})


class _Disconnected(Exception):
    pass


class RequestGuard:
    """ASGI middleware applying :class:`GuardLimits` to every HTTP request."""

    def __init__(self, app: ASGIApp, limits: GuardLimits, stats: GuardStats | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.limits = limits
        self.stats = stats if stats is not None else GuardStats()
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.limits.exempt_paths:
            await self.app(scope, receive, send)
            return
        # the event loop is single-threaded: this check and the increment cannot interleave
        if self.stats.in_flight >= self.limits.max_concurrent:
            await self._refuse(scope, send, _Refused(
                503, "overloaded", "Operator busy",
                f"{self.stats.in_flight} requests are being handled (limit {self.limits.max_concurrent}); "
                f"retry shortly", {"Retry-After": "1"}))
            return
        self.stats.in_flight += 1
        try:
            try:
                if scope["method"] in _BODY_METHODS or _header(scope, b"content-length") or \
                        _header(scope, b"transfer-encoding"):
                    body = await self._read_body(scope, receive)
                    receive = _replay(body, receive)
            except _Refused as refusal:
                await self._refuse(scope, send, refusal)
                return
            except _Disconnected:
                return
            await self.app(scope, receive, send)
        finally:
            self.stats.in_flight -= 1

    def cap(self, path: str) -> int:
        return self.limits.body_caps.get(path, self.limits.default_cap)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        cap = self.cap(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not _DIGITS.fullmatch(declared):
                raise _Refused(400, "malformed_request", "Malformed request",
                               "Content-Length must be ASCII digits")
            if int(declared) > cap:
                raise _Refused(413, "body_too_large", "Request body too large",
                               f"the body declares {int(declared):,} bytes; at most {cap:,} are accepted on "
                               f"{scope['path']}")
        chunks: list[bytes] = []
        size = 0
        deadline = self.clock() + self.limits.body_timeout
        while True:
            left = deadline - self.clock()
            if left <= 0:
                raise self._slow(scope, size)
            try:
                message = await asyncio.wait_for(receive(), timeout=min(self.limits.read_timeout, left))
            except asyncio.TimeoutError:
                raise self._slow(scope, size) from None
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise _Refused(413, "body_too_large", "Request body too large",
                               f"the body passed {cap:,} bytes, the most accepted on {scope['path']}; "
                               f"refused while it was still arriving")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _slow(self, scope: Scope, size: int) -> _Refused:
        return _Refused(408, "request_timeout", "Request timeout",
                        f"the body of {scope['method']} {scope['path']} did not arrive in time ({size:,} bytes "
                        f"received; each chunk within {self.limits.read_timeout:g}s, the whole body within "
                        f"{self.limits.body_timeout:g}s)")

    async def _refuse(self, scope: Scope, send: Send, refusal: _Refused) -> None:
        self.stats.refused[refusal.code] = self.stats.refused.get(refusal.code, 0) + 1
        log.warning("refused %s %s from %s: %s %s", scope["method"], scope["path"],
                    (scope.get("client") or ("?",))[0], refusal.status, refusal.detail)
        body = json.dumps(Problem.of(refusal.status, refusal.code, refusal.title, refusal.detail,
                                     instance=scope["path"]).body()).encode()
        headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        headers += [(k.lower().encode(), v.encode()) for k, v in refusal.headers.items()]
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.strip()
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the route the complete body once, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
