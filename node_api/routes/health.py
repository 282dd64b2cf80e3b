"""Liveness and indexing lag (no session needed)."""

from __future__ import annotations

import time

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..deps import Ctx
from ..readable import iso
from .common import read_model

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    chain_id: int
    head: int
    chain_time: int = Field(description="the latest block's timestamp: the clock every rule on chain uses")
    chain_time_iso: str | None
    wall_time: int = Field(description="this node's clock")
    wall_time_iso: str | None
    clock_skew_seconds: int = Field(description="chain time minus wall time")
    indexed_block: int | None
    lag_blocks: int | None
    worker: int | None = Field(default=None, description="which of the node's API processes answered (0..N-1 with "
                                                        "`tradenet node --workers N`); null for a node of one process")


@router.get("/health", response_model=HealthOut)
def health(ctx: Ctx) -> HealthOut:
    block = ctx.chain.w3.eth.get_block("latest")
    head, chain_time, wall = block["number"], int(block["timestamp"]), int(time.time())
    indexed = read_model(ctx).indexed_block()
    return HealthOut(chain_id=ctx.chain.chain_id, head=head, chain_time=chain_time, chain_time_iso=iso(chain_time),
                     wall_time=wall, wall_time_iso=iso(wall), clock_skew_seconds=chain_time - wall,
                     indexed_block=indexed, lag_blocks=None if indexed is None else head - indexed,
                     worker=ctx.worker)
