"""The operator's HTTP interface (FastAPI).

- ``POST /carrier-events``: one DCSA event, HMAC-authenticated (``oracle.hmac_auth``); 202 when
  accepted (persisted and signed), 200 for an identical replay or a valid event that is not
  attested (PLN/EST, non-milestone code), 401 unsigned / bad signature / expired timestamp,
  400 malformed JSON, 422 invalid field, 409 changed content for an accepted event.
- ``POST /fx-rates``: one FX observation, same authentication and answers.
- ``POST /signatures``: a peer operator's signature (the signature authenticates it).
- ``GET /status``, ``GET /healthz``, ``GET /reports/{digest}``.
- ``GET /metrics``: Prometheus metrics (``oracle.metrics``), no credential, only to the client
  addresses in ``metrics.allow_from`` (loopback by default).

Errors are the network's RFC 9457 problem bodies (``chain.problems``):
``{type, title, status, detail, code, field?, errors?, instance}``.
"""

from __future__ import annotations

import http as http_status
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.http_metrics import route_template
from chain.problems import MEDIA_TYPE, Problem

from .errors import InputError
from .http_guard import GuardLimits, RequestGuard
from .metrics import CONTENT_TYPE, MetricsMiddleware, allowed
from .normalize import parse_json
from .openapi import install as install_openapi
from .service import OperatorService
from .settings import HttpSettings

log = logging.getLogger(__name__)


def problem_response(body: dict[str, Any]) -> JSONResponse:
    status = body["status"]
    headers = {"WWW-Authenticate": 'HMAC-SHA256 realm="tradenet-oracle"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def guard_limits(http: HttpSettings) -> GuardLimits:
    """Each route's body cap: small for peer signatures and FX observations, one event (or a v2.2
    callback array) on /carrier-events, a batch on the DCSA v3 subscriber endpoint /events."""
    return GuardLimits(
        body_caps={"/carrier-events": http.max_body_bytes, "/events": http.max_batch_body_bytes,
                   "/fx-rates": http.max_small_body_bytes, "/signatures": http.max_small_body_bytes},
        default_cap=http.max_small_body_bytes, read_timeout=http.read_timeout_seconds,
        body_timeout=http.body_timeout_seconds, max_concurrent=http.max_concurrent_requests,
        exempt_paths=frozenset({"/healthz", "/metrics"}))


def create_app(service: OperatorService) -> FastAPI:
    app = FastAPI(title=f"tradenet oracle operator {service.settings.name}", version="1",
                  description="Carrier event intake, EIP-712 signature sharing and status of one oracle operator.")
    http = service.settings.http
    app.add_middleware(RequestGuard, limits=guard_limits(http), stats=service.http_stats)

    app.add_middleware(MetricsMiddleware, metrics=service.metrics, route_of=route_template(app))  # outermost

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return problem_response(exc.problem(instance=request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = http_status.HTTPStatus(exc.status_code).name.lower()
        return problem_response(Problem.of(exc.status_code, code, str(exc.detail), instance=request.url.path).body())

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - last resort
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(Problem.of(500, "internal_error", "Internal error", "the operator failed to "
                                           "process the request; it was logged", instance=request.url.path).body())

    async def _body(request: Request) -> bytes:
        # complete and within its route's cap: oracle.http_guard read it while it streamed in
        return await request.body()

    async def _events(request: Request, cap: int) -> Response:
        body = await _body(request)
        status, answer = await run_in_threadpool(service.post_carrier_events, body, dict(request.headers), cap)
        return Response(status_code=status) if answer is None else JSONResponse(answer, status_code=status)

    @app.post("/carrier-events", status_code=202)
    async def carrier_events(request: Request) -> Response:
        """One DCSA event (v2.2, v3.0.0-Beta-1 or v3.0.0), or a DCSA subscription callback array."""
        return await _events(request, http.max_body_bytes)

    @app.post("/events", status_code=200)
    async def events(request: Request) -> Response:
        """The DCSA v3 subscriber interface: ``{"events": [...]}`` (3.0.0) or a bare array of
        ``{metadata, payload}`` events (3.0.0-Beta-1's callback); v2.2 arrays and single events too."""
        return await _events(request, http.max_batch_body_bytes)

    @app.post("/fx-rates", status_code=202)
    async def fx_rates(request: Request) -> JSONResponse:
        body = await _body(request)
        status, answer = await run_in_threadpool(service.post_fx_rate, body, dict(request.headers))
        return JSONResponse(answer, status_code=status)

    @app.post("/signatures")
    async def signatures(request: Request) -> JSONResponse:
        body = await _body(request)
        # the signature inside is the authentication, so this body is parsed unauthenticated:
        # small (its route cap) and depth-checked before the C scanner runs (chain.jsonsafe)
        payload = parse_json(body, max_bytes=http.max_small_body_bytes, max_depth=http.max_json_depth)
        status, answer = await run_in_threadpool(service.receive_signature, payload)
        return JSONResponse(answer, status_code=status)

    @app.get("/events/{event_id:path}")
    async def event_status(event_id: str, request: Request) -> JSONResponse:
        """The fate of the carrier's own event (signed with its credential over ``GET <path>``)."""
        target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode("latin-1")
        answer = await run_in_threadpool(service.event_status, dict(request.headers), request.method, target, event_id)
        return JSONResponse(answer)

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return await run_in_threadpool(service.status)

    metrics_settings = service.settings.metrics
    networks = metrics_settings.networks()

    @app.get("/metrics", include_in_schema=metrics_settings.enabled)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this operator: no credential, loopback (``metrics.allow_from``) only."""
        if not metrics_settings.enabled:
            return problem_response(Problem.of(404, "not_found", "Not found", "metrics are disabled on this operator",
                                               instance=request.url.path).body())
        host = request.client.host if request.client else None
        if not allowed(host, networks):
            return problem_response(Problem.of(403, "forbidden", "Forbidden",
                                               f"/metrics is served to {', '.join(metrics_settings.allow_from)} only "
                                               f"(metrics.allow_from), not to {host}",
                                               instance=request.url.path).body())
        body = await run_in_threadpool(service.metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "operator": service.settings.name, "address": service.address}

    @app.get("/reports/{digest}")
    async def report(digest: str, request: Request) -> JSONResponse:
        r = await run_in_threadpool(service.store.report, digest.lower())
        if r is None:
            return problem_response(Problem.of(404, "not_found", "Unknown report", f"no report with digest {digest}",
                                               instance=request.url.path).body())
        sigs = await run_in_threadpool(service.store.signatures, r.digest)
        return JSONResponse({"kind": r.kind, "label": r.label, "digest": r.digest, "state": r.state.value,
                             "message": r.message, "signatures": sigs, "txHash": r.tx_hash,
                             "conflicted": r.conflicted, "lastError": r.last_error})

    install_openapi(app)
    return app
