"""What the Prometheus endpoints of tradenet's HTTP services share (the oracle operators' and the
node API's ``GET /metrics``): the request-counting ASGI middleware, the route template of a
request (a bounded label: never the raw path) and the address check of an unauthenticated
``/metrics`` (loopback unless configured)."""

from __future__ import annotations

import ipaddress
import time
from typing import Any, Awaitable, Callable, Iterable, MutableMapping, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Prometheus' text exposition format
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: who may read an unauthenticated /metrics by default
LOOPBACK = ("127.0.0.0/8", "::1/128")


class RequestMetrics(Protocol):
    http_requests: Counter  # labels route, method, status
    http_latency: Histogram  # labels route, method


def request_metrics(prefix: str, registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    """``<prefix>_http_requests_total{route,method,status}`` and
    ``<prefix>_http_request_duration_seconds{route,method}`` in `registry`."""
    return (Counter(f"{prefix}_http_requests", "HTTP requests by route, method and status",
                    ["route", "method", "status"], registry=registry),
            Histogram(f"{prefix}_http_request_duration_seconds", "HTTP request latency",
                      ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry))


def networks(entries: Iterable[str]) -> list[Network]:
    """The networks of an ``allow_from`` list (a ValueError names a bad entry)."""
    return [ipaddress.ip_network(n.strip(), strict=False) for n in entries]


def allowed(client_host: str | None, nets: Iterable[Network]) -> bool:
    """Is the client address inside one of `nets` (a unix socket or unknown peer: no)."""
    if not client_host:
        return False
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in n for n in nets)


def route_template(app: Any) -> Callable[[Scope], str]:
    """The route template of a request in `app` (``/invoices/{token_id}``), ``other`` for a path
    no route matches. The matched route is in the scope once routing ran; a request refused
    before routing (a middleware's 413/408/503) is matched here against the routes."""
    from starlette.routing import Match

    try:  # FastAPI >= 0.150 nests included routers; this yields their routes with the full path
        from fastapi.routing import _iter_included_route_candidates as effective_routes
    except ImportError:  # pragma: no cover - older FastAPI: the app's routes are already flat
        def effective_routes(routes: Any) -> Any:
            return routes

    def route_of(scope: Scope) -> str:
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return route.path
        for candidate in effective_routes(app.router.routes):
            match, _ = candidate.matches({**scope, "type": "http"})
            if match == Match.FULL:
                return getattr(candidate, "path", "other")
        return "other"

    return route_of


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request by route template and status, with its latency.
    Added last (outermost), so the refusals of the other middlewares are counted too."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, route_of: Callable[[Scope], str],
                 clock: Callable[[], float] = time.perf_counter):
        self.app = app
        self.metrics = metrics
        self.route_of = route_of
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status = {"code": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.route_of(scope)
            method = scope.get("method", "?")
            self.metrics.http_requests.labels(route=route, method=method, status=str(status["code"])).inc()
            self.metrics.http_latency.labels(route=route, method=method).observe(self.clock() - started)
