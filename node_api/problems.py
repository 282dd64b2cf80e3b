"""The one place where errors become HTTP answers: RFC 9457 problem bodies (``chain.problems``)
for every error the API returns; never a 500 for bad input."""

from __future__ import annotations

import http
import logging
from typing import Any

import requests
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.errors import ContractRevert, TransactionFailed
from chain.problems import Problem, ProblemError
from chain.rpc import RpcUnavailable

from .responses import ProblemResponse
from .sentences import Speaker, abi_types, rule_of, sentence

log = logging.getLogger(__name__)


def _json_safe(value: Any) -> Any:
    """Revert arguments for JSON: bytes as 0x-hex, integers beyond 2^53 as decimal strings."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> ProblemResponse:
        # the node's own refusals (node_api.errors) and the sign-in failures (node_api.auth); a
        # refusal to try again later says when (``retry_after`` seconds)
        retry = getattr(exc, "retry_after", None)
        return ProblemResponse(exc.problem(instance=request.url.path),
                               headers={"Retry-After": str(retry)} if retry else None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "body"
        return ProblemResponse(Problem.of(
            422, "invalid", "Invalid request", f"{field}: {first.get('msg', 'invalid')}", field=field,
            instance=request.url.path,
            errors=[{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "detail": e.get("msg")}
                    for e in errors]).body())

    @app.exception_handler(ContractRevert)
    async def _revert(request: Request, exc: ContractRevert) -> ProblemResponse:
        # the contract is the source of truth for every business rule: its error is the answer,
        # as a sentence with the figures (node_api.sentences), its name and its raw arguments
        return ProblemResponse(revert_problem(request, exc))

    @app.exception_handler(TransactionFailed)
    async def _tx_failed(request: Request, exc: TransactionFailed) -> ProblemResponse:
        return ProblemResponse(Problem.of(502, "transaction_refused", "Transaction refused by the node", str(exc),
                                          instance=request.url.path).body())

    # the node's dependencies down (found by the fault suite: each was a bare 500): the chain node
    # (an RPC restart), the read model's database (a PostgreSQL restart).
    async def _chain_down(request: Request, exc: Exception) -> ProblemResponse:
        log.warning("chain node unavailable on %s: %s", request.url.path, exc)
        return ProblemResponse(Problem.of(503, "chain_unavailable", "Chain node unavailable",
                                          "the chain node did not answer: retry shortly (a write may have "
                                          "reached it before it went away: look it up before sending it again)",
                                          instance=request.url.path).body(), headers={"Retry-After": "2"})

    for unavailable in (RpcUnavailable, requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        app.add_exception_handler(unavailable, _chain_down)

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    async def _db_down(request: Request, exc: sqlalchemy.exc.OperationalError) -> ProblemResponse:
        log.warning("read model unavailable on %s: %s", request.url.path, exc.orig or exc)
        return ProblemResponse(Problem.of(503, "read_model_unavailable", "Read model unavailable",
                                          "the node's database did not answer: retry shortly",
                                          instance=request.url.path).body(), headers={"Retry-After": "2"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        code = http.HTTPStatus(exc.status_code).name.lower()
        return ProblemResponse(Problem.of(exc.status_code, code, str(exc.detail), instance=request.url.path).body())


def revert_problem(request: Request, exc: ContractRevert) -> dict[str, Any]:
    """The 409 body of a contract's refusal. A route may name the currency its amounts are in
    (``request.state.currency``) so the sentence shows them with it."""
    ctx = request.app.state.ctx
    speaker = Speaker(ctx.reader(), None, getattr(request.state, "currency", None))
    try:
        speaker.now = ctx.chain_time()
    except Exception:  # noqa: BLE001 - a sentence without the chain time is still a sentence
        log.debug("no chain time for the problem sentence", exc_info=True)
    types = _types(ctx).get(exc.error_name)
    extensions: dict[str, Any] = {"error": exc.error_name,
                                  "arguments": {k: _json_safe(v) for k, v in exc.args_by_name.items()}}
    rule = rule_of(exc, speaker)
    if rule:
        extensions.update(rule)
    return Problem.of(409, "contract_revert", "Rejected by the contract", sentence(exc, speaker, types),
                      instance=request.url.path, **extensions).body()


_TYPES: dict[int, dict[str, dict[str, str]]] = {}


def _types(ctx: Any) -> dict[str, dict[str, str]]:
    key = id(ctx.chain.artifacts)
    if key not in _TYPES:
        _TYPES[key] = abi_types({n: a.abi for n, a in ctx.chain.artifacts.items()})
    return _TYPES[key]
