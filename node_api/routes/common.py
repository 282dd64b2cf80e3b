"""Helpers shared by the routers: pagination, readable rows, the standard answer of a write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel

from ..context import NodeContext
from ..deps import Ctx
from ..errors import InvalidInput
from ..models import _token_id
from ..read_model import ReadModel
from ..readable import Reader, money  # noqa: F401  (re-exported for the routers)


class Paging(BaseModel):
    limit: int
    offset: int


def paging(ctx: Ctx, limit: Annotated[int, Query(ge=1)] = 50,
           offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> Paging:
    if limit > ctx.settings.page_size_max:
        raise InvalidInput("limit", f"at most {ctx.settings.page_size_max} items a page")
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


def reader(ctx: Ctx) -> Reader:
    return ctx.reader()


ReaderDep = Annotated[Reader, Depends(reader)]


def page_out(items: list[dict[str, Any]], total: int, p: Paging) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": p.limit, "offset": p.offset}


def read_model(ctx: NodeContext) -> ReadModel:
    return ReadModel(ctx.db)


def token_id_param(name: str, what: str):
    """A path parameter holding a 256-bit token id (decimal or 0x-hex), parsed (422 naming it)."""

    def parse(request: Request) -> int:
        raw = request.path_params.get(name, "")
        try:
            value = _token_id(raw)
        except ValueError:
            raise InvalidInput(name, f"{raw!r} is not {what} id (decimal or 0x-hex, at most 256 bits)") from None
        if value <= 0 or value >= 2**256:
            raise InvalidInput(name, f"{what} ids are positive 256-bit numbers")
        return value

    return parse


def in_currency(request: Request, currency: str | None) -> None:
    """Tells the problem handler which currency a contract's amounts are in (its sentences)."""
    request.state.currency = currency


SmallId = Annotated[int, Path(ge=1, lt=2**63)]
