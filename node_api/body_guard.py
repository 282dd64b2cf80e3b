"""The node's front door: an ASGI layer that bounds every request body in size, time and shape
before FastAPI (or any route) sees it.

For each request, by the route it is addressed to (:class:`RoutePolicy`):

1. a route that needs a session has its bearer token checked first: an unauthenticated request
   is answered 401 before a byte of its body is read;
2. a ``Content-Length`` over the route's cap is answered 413 at once; a body without one
   (``Transfer-Encoding: chunked``) is counted while it arrives and answered 413 as soon as the
   cap is passed, so no more than the cap is ever held in memory;
3. the whole body must arrive within ``read_timeout`` seconds (408 otherwise): a slow client
   cannot hold a worker;
4. a JSON route's body must be JSON (415 for another media type) and is checked with
   :func:`chain.jsonsafe.loads` (depth, size, UTF-8, duplicate keys; 400/413), so the JSON
   parser FastAPI runs afterwards only ever sees shallow, well-formed text.

A body that passes is handed to the application unchanged. A refusal closes the connection
(``Connection: close``), so the server does not go on reading a body nobody will use. Caps: JSON
bodies ``json_max_bytes`` (64 KiB by default), raw document uploads (routes marked with
:func:`raw_body`) ``document_max_bytes`` (25 MiB by default).
"""

from __future__ import annotations

import email.message
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import anyio
from fastapi.routing import APIRoute

try:  # FastAPI >= 0.150 nests included routers; this yields their routes with the full path
    from fastapi.routing import _iter_included_route_candidates as _effective_routes
except ImportError:  # pragma: no cover - older FastAPI: the app's routes are already flat
    def _effective_routes(routes: Any) -> Any:
        return routes
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chain import jsonsafe
from chain.problems import ProblemError

from .responses import ProblemResponse

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_RAW_BODY_MARK = "__tradenet_raw_body__"


def raw_body(endpoint: F) -> F:
    """Mark a route whose body is raw bytes (a document) rather than JSON: it gets the document
    cap and no JSON checks."""
    setattr(endpoint, _RAW_BODY_MARK, True)
    return endpoint


class BodyTooLarge(ProblemError):
    status = 413
    code = "body_too_large"
    title = "Request body too large"


class BodyTimeout(ProblemError):
    status = 408
    code = "request_timeout"
    title = "Request body not received in time"


class UnsupportedMediaType(ProblemError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class BadContentLength(ProblemError):
    status = 400
    code = "bad_content_length"
    title = "Invalid Content-Length"


@dataclass(frozen=True)
class BodyLimits:
    json_max_bytes: int = 64 * 1024
    document_max_bytes: int = 25 * 1024 * 1024
    read_timeout: float = 30.0
    max_depth: int = jsonsafe.DEFAULT_MAX_DEPTH


@dataclass(frozen=True)
class RoutePolicy:
    max_bytes: int
    json: bool  # the body must be JSON, checked with chain.jsonsafe
    session: bool  # a bearer session is checked before the body is read


SessionCheck = Callable[[Scope, str | None], None]


class BodyGuard:
    """ASGI middleware; `check_session(scope, authorization_header)` raises a ProblemError (401)
    for a request without a live session, `needs_session(route)` says which routes need one."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, check_session: SessionCheck,
                 needs_session: Callable[[APIRoute], bool]):
        self.app = app
        self.limits = limits
        self.check_session = check_session
        self.needs_session = needs_session
        self._policies: list[tuple[APIRoute, RoutePolicy]] | None = None
        self._default = RoutePolicy(limits.json_max_bytes, json=True, session=False)

    # -- policy per route ------------------------------------------------------------------
    def _policy_of(self, route: APIRoute) -> RoutePolicy:
        raw = getattr(route.endpoint, _RAW_BODY_MARK, False)
        return RoutePolicy(self.limits.document_max_bytes if raw else self.limits.json_max_bytes,
                           json=not raw, session=self.needs_session(route))

    def policy(self, scope: Scope) -> RoutePolicy:
        if self._policies is None:
            app = scope.get("app")
            routes = _effective_routes(getattr(app, "routes", [])) if app is not None else []
            self._policies = [(r, self._policy_of(r)) for r in routes if isinstance(r, APIRoute)]
        for route, policy in self._policies:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return policy
        return self._default  # unknown path or method: the app answers 404/405 itself

    # -- ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy(scope)
        headers = _headers(scope)
        try:
            if policy.session:
                self.check_session(scope, headers.get("authorization"))
            _check_declared_length(headers, policy.max_bytes)
            body = await self._read(receive, policy.max_bytes)
            if body is None:  # the client went away
                return
            if policy.json and body:
                _check_json_media_type(headers.get("content-type"))
                jsonsafe.loads(body, max_bytes=policy.max_bytes, max_depth=self.limits.max_depth)
        except ProblemError as exc:
            log.info("refused %s %s: %s", scope.get("method"), scope.get("path"), exc)
            # the rest of the body (if any) is never read: close the connection rather than let the
            # server drain whatever the client keeps sending
            await ProblemResponse(exc.problem(instance=scope.get("path")),
                                  headers={"connection": "close"})(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, cap: int) -> bytes | None:
        """The whole body, counted as it arrives, within the read timeout."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.limits.read_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BodyTimeout(f"the body must arrive within {self.limits.read_timeout:g} s")
            with anyio.move_on_after(remaining) as scope:
                message = await receive()
            if scope.cancelled_caught:
                raise BodyTimeout(f"the body must arrive within {self.limits.read_timeout:g} s")
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise BodyTooLarge(f"more than {cap:,} bytes; at most {cap:,} are accepted here", field="body")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _check_declared_length(headers: dict[str, str], cap: int) -> None:
    declared = headers.get("content-length")
    if declared is None:
        return
    if not declared.isascii() or not declared.isdigit() or len(declared) > 19:
        raise BadContentLength(f"Content-Length {declared!r} is not a byte count", field="content-length")
    if int(declared) > cap:
        raise BodyTooLarge(f"Content-Length is {int(declared):,} bytes; at most {cap:,} are accepted here",
                           field="body")


def _check_json_media_type(content_type: str | None) -> None:
    """JSON routes take ``application/json`` (or ``+json``), or a body without a media type."""
    if not content_type:
        return
    m = email.message.Message()
    m["content-type"] = content_type
    sub = m.get_content_subtype()
    if m.get_content_maintype() == "application" and (sub == "json" or sub.endswith("+json")):
        return
    raise UnsupportedMediaType(f"this route takes application/json, not {m.get_content_type()}",
                               field="content-type")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives the buffered body once, then the client's own messages
    (the disconnect a streaming response waits for)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
