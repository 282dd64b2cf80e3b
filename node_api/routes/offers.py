"""Offers: lenders post signed terms for a borrower's asset, borrowers list and accept them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .. import offers
from ..deps import CallerDep, Ctx
from ..models import JsonObject, Money, Page, RequestModel, Text, TxOut, tx_out
from ..openapi import READ_ONE, WRITE, problems
from ..terms import ProductName, TermsIn
from .common import PagingDep, SmallId, page_out

router = APIRouter(prefix="/offers", tags=["offers"])

Status = Literal["open", "accepted", "revoked", "lapsed", "expired"]


class OfferIn(RequestModel):
    terms: TermsIn
    lender_signature: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{130}$",
                                         description="the lender's EIP-712 signature (default: its node-held key "
                                                     "signs; POST /deals/terms/preview gives the typed data)")
    note: Text | None = Field(default=None, max_length=500, description="a message to the borrower")


class OfferOut(BaseModel):
    """An offer (visible to its lender and to the asset's borrower); `status` is derived from the
    chain at every read (see docs/api.md, Offers)."""

    id: int
    status: Status
    deal_id: int | None
    product: str
    collateral_id: str
    lender: str
    lender_name: str | None
    lender_lei: str | None
    borrower: str
    borrower_name: str | None
    borrower_lei: str | None
    principal: Money
    fee: Money
    currency: str
    maturity: int
    maturity_iso: str | None
    accept_by: int
    accept_by_iso: str | None
    terms: JsonObject
    terms_digest: str
    lender_signature: str
    agreement_hash: str
    note: str | None
    created_at: int
    created_at_iso: str | None
    clock: str
    as_of: int
    as_of_iso: str | None


class OfferPage(Page):
    items: list[OfferOut]


class AcceptedOut(TxOut):
    deal_id: int


@router.post("", response_model=OfferOut, status_code=201, responses=problems(409))
def post_offer(body: OfferIn, ctx: Ctx, caller: CallerDep) -> dict:
    """A lender offers terms for a confirmed invoice, purchase order or warehouse receipt; the
    node keeps the offer (off chain) and the agreement, encrypted for both parties."""
    return offers.post(ctx, caller, body.terms, body.lender_signature, body.note)


@router.get("", response_model=OfferPage)
def list_offers(ctx: Ctx, caller: CallerDep, p: PagingDep, product: ProductName | None = None,
                collateral_id: Annotated[str | None, Query(pattern=r"^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$",
                                                           description="the asset's id")] = None,
                status: Status | None = None) -> dict:
    """The caller's offers: as a borrower, those for its assets (filter by `product` and
    `collateral_id` for one asset); as a lender, the ones it made."""
    cid = None if collateral_id is None else int(collateral_id, 16 if collateral_id.startswith("0x") else 10)
    items, total = offers.page(ctx, caller, product=product, collateral_id=cid, status=status, limit=p.limit,
                               offset=p.offset)
    return page_out(items, total, p)


@router.get("/{offer_id}", response_model=OfferOut, responses=READ_ONE)
def get_offer(offer_id: SmallId, ctx: Ctx, caller: CallerDep) -> dict:
    return offers.get(ctx, caller, offer_id)


@router.post("/{offer_id}/accept", response_model=AcceptedOut, status_code=201, responses=WRITE)
def accept_offer(offer_id: SmallId, ctx: Ctx, caller: CallerDep) -> dict:
    """The borrower accepts an open offer: the deal is created on chain with the lender's
    signature; every other offer for the asset lapses."""
    deal_id, receipt = offers.accept(ctx, caller, offer_id)
    return {"deal_id": deal_id, **tx_out(receipt).model_dump()}


@router.post("/{offer_id}/revoke", response_model=TxOut, responses=WRITE)
def revoke_offer(offer_id: SmallId, ctx: Ctx, caller: CallerDep) -> TxOut:
    """The lender withdraws its offer (its terms are revoked on chain)."""
    return tx_out(offers.revoke(ctx, caller, offer_id))


