"""Contract events from the read model: a paginated list and a live Server-Sent Events stream.

A participant sees the events that name its address in any argument; an auditor sees all."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select, tuple_

from chain.contracts import Role
from chain.indexer.schema import events

from ..context import Caller
from ..deps import CallerDep, Ctx
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


def _visible(row: dict[str, Any], caller: Caller) -> bool:
    return caller.has(Role.AUDITOR) or _mentions(row["args"] or {}, caller.address.lower())


def _event_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"block_number": row["block_number"], "log_index": row["log_index"], "tx_hash": row["tx_hash"],
            "contract": row["contract"], "address": row["address"], "event": row["event"], "args": row["args"]}


def _fetch(ctx, after: tuple[int, int], limit: int) -> list[dict[str, Any]]:
    with ctx.db.connect() as c:
        q = (select(events).where(tuple_(events.c.block_number, events.c.log_index) > tuple_(*after))
             .order_by(events.c.block_number, events.c.log_index).limit(limit))
        return [dict(r) for r in c.execute(q).mappings()]


@router.get("")
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
        for r in rows:
            cursor = (r["block_number"], r["log_index"])
            if (contract and r["contract"] != contract) or (event and r["event"] != event) or not _visible(r, caller):
                continue
            if skipped < p.offset:
                skipped += 1
                continue
            items.append(_event_out(r))
            if len(items) == p.limit:
                break
    return {"items": items, "limit": p.limit, "offset": p.offset,
            "next_cursor": f"{cursor[0]}:{cursor[1]}" if items else None}


@router.get("/stream")
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
            for r in rows:
                cursor = (r["block_number"], r["log_index"])
                if _visible(r, caller):
                    data = json.dumps(_event_out(r), default=str)
                    yield f"id: {cursor[0]}:{cursor[1]}\nevent: {r['event']}\ndata: {data}\n\n".encode()
                    sent += 1
                    if max_events and sent >= max_events:
                        return
            if not rows:
                await asyncio.sleep(0.25)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
