"""The operator's HTTP interface (FastAPI).

- ``POST /carrier-events``: one DCSA event, HMAC-authenticated (``oracle.hmac_auth``); 202 when
  accepted (persisted and signed), 200 for an identical replay or a valid event that is not
  attested (PLN/EST, non-milestone code), 401 unsigned / bad signature / expired timestamp,
  400 malformed JSON, 422 invalid field, 409 changed content for an accepted event.
- ``POST /fx-rates``: one FX observation, same authentication and answers.
- ``POST /signatures``: a peer operator's signature (the signature authenticates it).
- ``GET /status``, ``GET /healthz``, ``GET /reports/{digest}``.

Errors are RFC 7807 problem bodies: ``{type, title, status, detail, field?, errors?, instance}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import BodyTooLarge, InputError, MalformedBody
from .service import OperatorService

log = logging.getLogger(__name__)

PROBLEM_TYPE = "urn:tradenet:problem:"


def problem(status: int, slug: str, title: str, detail: str, instance: str, field: str | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + slug, "title": title, "status": status, "detail": detail,
                            "instance": instance}
    if field is not None:
        body["field"] = field
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'HMAC-SHA256 realm="tradenet-oracle"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def create_app(service: OperatorService) -> FastAPI:
    app = FastAPI(title=f"tradenet oracle operator {service.settings.name}", version="1",
                  description="Carrier event intake, EIP-712 signature sharing and status of one oracle operator.")

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return problem(exc.status, exc.slug, exc.title, exc.detail, request.url.path, exc.field, errors=exc.errors,
                       **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "http-error", str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover - last resort
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "internal-error", "Internal error", "the operator failed to process the request; "
                       "it was logged", request.url.path)

    async def _body(request: Request) -> bytes:
        limit = service.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"body of {declared} bytes exceeds {limit}")
        return await request.body()

    @app.post("/carrier-events", status_code=202)
    async def carrier_events(request: Request) -> JSONResponse:
        body = await _body(request)
        status, answer = await run_in_threadpool(service.post_carrier_event, body, dict(request.headers))
        return JSONResponse(answer, status_code=status)

    @app.post("/fx-rates", status_code=202)
    async def fx_rates(request: Request) -> JSONResponse:
        body = await _body(request)
        status, answer = await run_in_threadpool(service.post_fx_rate, body, dict(request.headers))
        return JSONResponse(answer, status_code=status)

    @app.post("/signatures")
    async def signatures(request: Request) -> JSONResponse:
        body = await _body(request)
        try:
            payload = json.loads(body)
        except ValueError:
            raise MalformedBody("body is not JSON") from None
        status, answer = await run_in_threadpool(service.receive_signature, payload)
        return JSONResponse(answer, status_code=status)

    @app.get("/status")
    async def status() -> dict[str, Any]:
        return await run_in_threadpool(service.status)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "operator": service.settings.name, "address": service.address}

    @app.get("/reports/{digest}")
    async def report(digest: str, request: Request) -> JSONResponse:
        r = await run_in_threadpool(service.store.report, digest.lower())
        if r is None:
            return problem(404, "not-found", "Unknown report", f"no report with digest {digest}", request.url.path)
        sigs = await run_in_threadpool(service.store.signatures, r.digest)
        return JSONResponse({"kind": r.kind, "label": r.label, "digest": r.digest, "state": r.state.value,
                             "message": r.message, "signatures": sigs, "txHash": r.tx_hash,
                             "conflicted": r.conflicted, "lastError": r.last_error})

    return app
