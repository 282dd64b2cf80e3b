"""The participants' node API (FastAPI). Routes stay thin: the contracts hold the business rules,
the read model answers queries, `chain` clients send transactions."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from . import problems
from .context import NodeContext
from .documents import mask_sensitive
from .routes import accounts, auth, deals, documents, events, invoices, oracle, participants, receipts, relay, reports


class MaskedJSONResponse(JSONResponse):
    """Every JSON response passes through the bank/ID-number mask."""

    def render(self, content: Any) -> bytes:
        return json.dumps(mask_sensitive(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=str).encode("utf-8")


def create_app(ctx: NodeContext) -> FastAPI:
    app = FastAPI(
        title="tradenet node API",
        version="0.1.0",
        description="A participant's way into the tradenet trade-finance network. Log in with "
                    "Sign-In with Ethereum (POST /auth/nonce, then /auth/login); send the session token as "
                    "`Authorization: Bearer <token>`. Amounts are integer minor units with their currency.",
        default_response_class=MaskedJSONResponse,
    )
    app.state.ctx = ctx
    problems.install(app)
    for module in (auth, participants, invoices, receipts, deals, oracle, accounts, reports, events, documents, relay):
        app.include_router(module.router)

    @app.get("/health", tags=["health"])
    def health() -> dict:
        from .read_model import ReadModel

        head = ctx.chain.w3.eth.block_number
        indexed = ReadModel(ctx.db).indexed_block()
        return {"chain_id": ctx.chain.chain_id, "head": head, "indexed_block": indexed,
                "lag_blocks": None if indexed is None else head - indexed}

    return app
