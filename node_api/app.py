"""The participants' node API (FastAPI). Routes stay thin: the contracts hold the business rules,
the read model answers queries, `chain` clients send transactions (``NodeContext.act``)."""

from __future__ import annotations

from fastapi import FastAPI

from . import answers, metrics, openapi, operations as async_writes, problems
from .body_guard import BodyGuard, BodyLimits
from .context import NodeContext
from .deps import check_session, needs_session
from .responses import MaskedJSONResponse
from .web import router as dashboard
from .routes import (accounts, agreements, auth, deals, docs, documents, events, health, invoices, offers, operations,
                     oracle, orders, participants, pools, receipts, relay, reports, risk, treasury)

ROUTERS = (health, auth, participants, invoices, orders, receipts, deals, offers, agreements, risk, treasury, pools,
           oracle, accounts, reports, events, documents, relay, operations, docs)


def create_app(ctx: NodeContext) -> FastAPI:
    app = FastAPI(
        title="tradenet node API",
        version="0.2.0",
        description="A participant's way into the tradenet trade-finance network. Log in with "
                    "Sign-In with Ethereum (POST /auth/nonce, then /auth/login); send the session token as "
                    "`Authorization: Bearer <token>` (in Swagger: *Authorize*). Amounts are "
                    "`{currency, minor, display}`: exact integer minor units with their currency and the amount as "
                    "people write it; times are unix seconds with an ISO-8601 `_iso` next to them, on the chain's "
                    "clock; parties carry their legal names and LEIs. Every error is an RFC 9457 problem "
                    "(`application/problem+json`); a contract's refusal is a sentence with the figures. "
                    "docs/api.md has the rules and the endpoints per role.",
        default_response_class=MaskedJSONResponse, docs_url=None, redoc_url=None,
    )
    app.state.ctx = ctx
    problems.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(dashboard)  # the web dashboard: / and /ui/ (node_api.web)
    s = ctx.settings
    app.state.operations = async_writes.OperationStore(s.async_write_threads, s.operation_retention_seconds,
                                                       max_per_owner=s.async_writes_per_member,
                                                       shared=ctx.db if ctx.worker is not None else None)
    async_writes.install(app, app.state.operations, threads=s.async_write_threads)  # Prefer: respond-async
    answers.install(app, s.answer_cache_entries, s.answer_cache_bytes)  # list answers kept per read-model state
    app.add_middleware(BodyGuard, limits=BodyLimits(json_max_bytes=s.json_body_max_bytes,
                                                    document_max_bytes=s.document_max_bytes,
                                                    read_timeout=s.request_read_timeout_seconds),
                       check_session=check_session, needs_session=needs_session)
    metrics.install(app, ctx)  # GET /metrics; the outermost middleware, so it counts the body guard's refusals
    openapi.install(app)
    return app
