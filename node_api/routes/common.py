"""Helpers shared by the routers: pagination, serialising read-model rows, custodial clients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel

from ..context import NodeContext
from ..read_model import ReadModel


class Paging(BaseModel):
    limit: int
    offset: int


def paging(limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]

def money(minor: int, currency: str) -> dict[str, str]:
    """Amounts leave the API as exact integer minor units (a string: JSON numbers lose precision
    above 2^53) with their currency."""
    return {"currency": currency, "minor": str(minor)}


def invoice_out(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("face_value", "token")}
    out["face_value"] = money(row["face_value"], row["currency"])
    return out


def receipt_out(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("insured_value", "token", "quantity")}
    out["insured_value"] = money(row["insured_value"], row["currency"])
    out["quantity"] = str(row["quantity"])
    return out


def page_out(items: list[dict[str, Any]], total: int, p: Paging) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": p.limit, "offset": p.offset}


def read_model(ctx: NodeContext) -> ReadModel:
    return ReadModel(ctx.db)
