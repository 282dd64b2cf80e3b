"""JSON problem bodies (RFC 9457) for every error the API returns; never a 500 for bad input."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.errors import ContractRevert, TransactionFailed

from .auth import AuthError

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


class ApiProblem(Exception):
    """An error the API answers with a problem body."""

    def __init__(self, status: int, title: str, detail: str = "", field: str | None = None,
                 code: str = "error", **extra: Any):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.field, self.code, self.extra = status, title, detail, field, code, extra

    def body(self) -> dict[str, Any]:
        b = {"type": f"urn:tradenet:problem:{self.code}", "title": self.title, "status": self.status,
             "detail": self.detail or self.title}
        if self.field:
            b["field"] = self.field
        b.update(self.extra)
        return b


def not_found(what: str, ident: Any) -> ApiProblem:
    return ApiProblem(404, "Not found", f"no {what} {ident} visible to you", code="not_found")


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "Forbidden", detail, code="forbidden")


def bad_request(field: str, detail: str) -> ApiProblem:
    return ApiProblem(422, "Invalid request", detail, field=field, code="invalid")


def _json(body: dict[str, Any], status: int) -> JSONResponse:
    from .app import MaskedJSONResponse  # problems are responses too: same masking

    return MaskedJSONResponse(body, status_code=status, media_type=PROBLEM)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return _json(exc.body(), exc.status)

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return _json(exc.problem(), exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "body"
        return _json({"type": "urn:tradenet:problem:invalid", "title": "Invalid request", "status": 422,
                      "detail": f"{field}: {first.get('msg', 'invalid')}", "field": field,
                      "errors": [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                                  "message": e.get("msg")} for e in errors]}, 422)

    @app.exception_handler(ContractRevert)
    async def _revert(_: Request, exc: ContractRevert) -> JSONResponse:
        # the contract is the source of truth for every business rule: its error is the answer
        args = {k: (("0x" + v.hex()) if isinstance(v, bytes) else v if not isinstance(v, int) or abs(v) < 2**53
                    else str(v)) for k, v in exc.args_by_name.items()}
        return _json({"type": f"urn:tradenet:problem:contract:{exc.error_name}", "title": "Rejected by the contract",
                      "status": 409, "detail": str(exc), "error": exc.error_name, "arguments": args}, 409)

    @app.exception_handler(TransactionFailed)
    async def _tx_failed(_: Request, exc: TransactionFailed) -> JSONResponse:
        return _json({"type": "urn:tradenet:problem:transaction", "title": "Transaction refused by the node",
                      "status": 502, "detail": str(exc)}, 502)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json({"type": "about:blank", "title": str(exc.detail), "status": exc.status_code,
                      "detail": str(exc.detail)}, exc.status_code)
