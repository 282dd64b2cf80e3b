"""Contract events from the read model: a paginated list and a live Server-Sent Events stream.

A participant sees the events that name its address in any argument and the events of the deals
it is party to (a milestone release names the deal, not its parties); an auditor sees all."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, tuple_

from chain.indexer.projections import deals as deals_table
from chain.indexer.schema import events
from chain.vocabulary import Role

from ..context import Caller
from ..context import NodeContext
from ..deps import CallerDep, Ctx
from ..read_model import ReadModel, deal_scope
from ..documents import mask_sensitive
from .common import PagingDep

router = APIRouter(prefix="/events", tags=["events"])


def _mentions(value: Any, address: str) -> bool:
    if isinstance(value, str):
        return value.lower() == address
    if isinstance(value, dict):
        return any(_mentions(v, address) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, address) for v in value)
    return False


def deal_ids(ctx: NodeContext, caller: Caller) -> set[int]:
    """The deals `caller` is party to (read once per batch of events)."""
    if caller.has(Role.AUDITOR):
        return set()
    return {row["deal_id"] for row in ReadModel(ctx.db).all(deals_table, deal_scope(caller))}


def visible(row: dict[str, Any], caller: Caller, deals: set[int]) -> bool:
    """Whether `caller` may see the event: an auditor all; a member those naming its address and
    those of its deals (`deals`, from `deal_ids`)."""
    args = row["args"] or {}
    if caller.has(Role.AUDITOR) or _mentions(args, caller.address.lower()):
        return True
    deal = args.get("dealId")
    return deal is not None and str(deal).isdigit() and int(deal) in deals


class EventOut(BaseModel):
    block_number: int
    log_index: int
    tx_hash: str
    contract: str
    address: str
    event: str | None
    args: dict[str, Any] | None = Field(description="decoded arguments: integers as decimal strings, bytes as 0x-hex")


class EventPage(BaseModel):
    items: list[EventOut]
    limit: int
    offset: int
    next_cursor: str | None = Field(description="`<block>:<logIndex>` of the last event scanned")


def _event_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"block_number": row["block_number"], "log_index": row["log_index"], "tx_hash": row["tx_hash"],
            "contract": row["contract"], "address": row["address"], "event": row["event"], "args": row["args"]}


def _fetch(ctx, after: tuple[int, int], limit: int) -> list[dict[str, Any]]:
    with ctx.db.connect() as c:
        q = (select(events).where(tuple_(events.c.block_number, events.c.log_index) > tuple_(*after))
             .order_by(events.c.block_number, events.c.log_index).limit(limit))
        return [dict(r) for r in c.execute(q).mappings()]


@router.get("", response_model=EventPage)
def list_events(ctx: Ctx, caller: CallerDep, p: PagingDep,
                contract: Annotated[str | None, Query(max_length=128)] = None,
                event: Annotated[str | None, Query(max_length=128)] = None,
                from_block: Annotated[int, Query(ge=0, lt=2**63)] = 0) -> dict:
    """Events in chain order, filtered to what the caller may see (scanned in chain order)."""
    items: list[dict[str, Any]] = []
    cursor, skipped = (from_block, -1), 0
    while len(items) < p.limit:
        rows = _fetch(ctx, cursor, 500)
        if not rows:
            break
        mine = deal_ids(ctx, caller)
        for r in rows:
            cursor = (r["block_number"], r["log_index"])
            if (contract and r["contract"] != contract) or (event and r["event"] != event) or not visible(r, caller, mine):
                continue
            if skipped < p.offset:
                skipped += 1
                continue
            items.append(_event_out(r))
            if len(items) == p.limit:
                break
    return {"items": items, "limit": p.limit, "offset": p.offset,
            "next_cursor": f"{cursor[0]}:{cursor[1]}" if items else None}


@router.get("/stream", response_class=StreamingResponse, responses={200: {
    "description": "Server-Sent Events: `id: <block>:<logIndex>`, `event: <name>`, `data: <event JSON>`",
    # the schema of one event (as OpenAPI 3.2's itemSchema): the stream is not one string
    "content": {"text/event-stream": {"schema": {
        "type": "object", "required": ["id", "event", "data"],
        "properties": {"id": {"type": "string", "pattern": r"^\d+:\d+$"}, "event": {"type": "string"},
                       "data": {"type": "string", "contentMediaType": "application/json",
                                "description": "the event: the JSON of one item of GET /events"}}}}}}})
async def stream(request: Request, ctx: Ctx, caller: CallerDep,
                 after: Annotated[str | None, Query(pattern=r"^\d{1,18}:\d{1,9}$")] = None,
                 max_events: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> StreamingResponse:
    """Server-Sent Events: each indexed event visible to the caller, as it is indexed.
    `after=<block>:<logIndex>` resumes (the `id:` of the last event received)."""
    start = tuple(int(x) for x in after.split(":")) if after else (-1, -1)

    async def gen() -> AsyncIterator[bytes]:
        cursor, sent = start, 0
        yield b": tradenet event stream\n\n"
        while not await request.is_disconnected():
            rows = await asyncio.to_thread(_fetch, ctx, cursor, 200)
            mine = await asyncio.to_thread(deal_ids, ctx, caller) if rows else set()
            for r in rows:
                cursor = (r["block_number"], r["log_index"])
                if visible(r, caller, mine):
                    # the stream bypasses the JSON response class: mask here, like every answer
                    data = json.dumps(mask_sensitive(_event_out(r)), default=str)
                    yield f"id: {cursor[0]}:{cursor[1]}\nevent: {r['event']}\ndata: {data}\n\n".encode()
                    sent += 1
                    if max_events and sent >= max_events:
                        return
            if not rows:
                await asyncio.sleep(0.25)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
