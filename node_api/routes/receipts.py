"""Warehouse receipts: warehouses issue and redeem; holders pledge them directly to a lender (with
a maturity and grace fixed at pledge time: enforceable only after them) or finance them through a
deal (receipt-pledge financing: the deal takes the pledge at funding); the pledgee releases or,
after maturity + grace, enforces a direct pledge; holders surrender receipts to take the goods
out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from chain import errors
from chain.clients import ReceiptTerms
from chain.deployment import Clients
from chain.indexer.projections import receipt_pledges
from chain.vocabulary import Role

from ..anchors import check_anchoring
from ..answers import KEPT
from ..context import PartyOf
from ..deps import CallerDep, Ctx
from ..errors import InvalidInput
from ..models import Address, Amount, Hash32, MinorUnits, Money, Page, RequestModel, Text, TxOut, readable_model, \
    tx_out
from ..openapi import READ_ONE, WRITE, problems
from ..read_model import receipt_scope, receipts
from ..readable import Reader, place
from .common import PagingDep, ReaderDep, SmallId, in_currency, page_out, read_model

router = APIRouter(prefix="/receipts", tags=["warehouse receipts"])


class ReceiptIn(RequestModel):
    depositor: Address
    commodity: Text = Field(min_length=1, max_length=200)
    quantity: MinorUnits = Field(description="integer quantity in `unit`")
    unit: Text = Field(min_length=1, max_length=32)
    grade: Text = Field(default="", max_length=200)
    location: str = Field(pattern=r"^[A-Z]{2}[A-Z0-9]{3}$", description="UN/LOCODE of the warehouse")
    insured_value: Amount
    expiry: int = Field(ge=0, lt=2**63)
    document_hash: Hash32
    document_cid: Text = Field(min_length=1, max_length=128)


class PledgeIn(RequestModel):
    lender: Address
    maturity: int = Field(gt=0, lt=2**40, description="the loan's maturity, unix seconds")
    grace_period: int = Field(default=0, ge=0, le=365 * 86_400, description="seconds after maturity")


class EnforceIn(RequestModel):
    to: Address | None = Field(default=None, description="who takes the receipt (default: the pledgee itself)")


class IssuedOut(TxOut):
    receipt_id: int


ReceiptOut = readable_model("ReceiptOut", "A warehouse receipt token with its current pledge.", {
    "id": int, "warehouse": str, "depositor": str, "holder": (str | None, None), "pledgee": (str | None, None),
    "pledge_enforceable_after": (int | None, None), "pledge_count": int, "commodity": str,
    "quantity": (str, Field(description="integer quantity in `unit`, as a decimal string")), "unit": str,
    "grade": str, "location": str, "location_name": (str | None, None), "insured_value": Money, "currency": str,
    "expiry": int, "redemption_requested": bool, "redeemed": bool, "document_hash": str, "document_cid": str,
    "issued_block": int, "issued_at": int, "updated_block": int,
}, parties=("warehouse", "depositor", "holder", "pledgee"), times=("expiry", "issued_at", "pledge_enforceable_after"))


class ReceiptPage(Page):
    items: list[ReceiptOut]  # type: ignore[valid-type]


PledgeOut = readable_model("PledgeOut", "One pledge of a receipt (Active, Released or Enforced).", {
    "receipt_id": int, "seq": int, "holder": str, "pledgee": str, "enforceable_after": int, "status": str,
    "enforced_to": (str | None, None), "pledged_block": int, "ended_block": (int | None, None),
}, parties=("holder", "pledgee"), times=("enforceable_after",))


class PledgePage(Page):
    items: list[PledgeOut]  # type: ignore[valid-type]


def receipt_out(row: dict[str, Any], r: Reader) -> dict[str, Any]:
    out = r.row(row, parties=("warehouse", "depositor", "holder", "pledgee"),
                times=("expiry", "issued_at", "pledge_enforceable_after"), amounts={"insured_value": "currency"})
    out["quantity"] = str(row["quantity"])
    out["location_name"] = place(row["location"])
    return out


@router.get("", response_model=ReceiptPage, dependencies=[KEPT])
def list_receipts(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep, pledged: bool | None = None) -> dict:
    where = [receipt_scope(caller)]
    if pledged is not None:
        where.append(receipts.c.pledgee.is_not(None) if pledged else receipts.c.pledgee.is_(None))
    rows, total = read_model(ctx).page(receipts, where, [receipts.c.id], p.limit, p.offset)
    return page_out([receipt_out(x, r) for x in rows], total, p)


def _visible(ctx: Ctx, caller: CallerDep, receipt_id: int) -> dict[str, Any]:
    return read_model(ctx).visible("receipt", receipt_id, receipts, receipts.c.id == receipt_id,
                                   receipt_scope(caller))


@router.get("/{receipt_id}", response_model=ReceiptOut, responses=READ_ONE)
def get_receipt(receipt_id: SmallId, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    return receipt_out(_visible(ctx, caller, receipt_id), r)


@router.get("/{receipt_id}/pledges", response_model=PledgePage, responses=READ_ONE)
def list_pledges(receipt_id: SmallId, ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep) -> dict:
    """Every pledge of a receipt, direct or to a deal, and how it ended."""
    _visible(ctx, caller, receipt_id)
    t = receipt_pledges
    rows, total = read_model(ctx).page(t, [t.c.receipt_id == receipt_id], [t.c.seq], p.limit, p.offset)
    return page_out([r.row(x, parties=("holder", "pledgee"), times=("enforceable_after",)) for x in rows], total, p)


def _party(receipt_id: int) -> PartyOf:
    def parties(c: Clients) -> tuple[str, str | None, str | None]:
        x = c.receipts.receipt(receipt_id)
        return x.warehouse, x.holder, x.pledgee

    return PartyOf("receipt", receipt_id, parties, errors.UnknownReceipt)


@router.post("", response_model=IssuedOut, status_code=201, responses=problems(409, 502))
def issue_receipt(body: ReceiptIn, ctx: Ctx, caller: CallerDep, request: Request) -> IssuedOut:
    client = ctx.act(caller, Role.WAREHOUSE).receipts
    in_currency(request, body.insured_value.currency)
    if body.insured_value.currency not in ctx.deployment.settlement_tokens:
        raise InvalidInput("insured_value.currency", f"the network has no settlement token for "
                                                     f"{body.insured_value.currency}")
    check_anchoring(ctx, caller.address, body.document_cid, body.document_hash)
    rid = client.issue(ReceiptTerms(body.depositor, body.commodity, body.quantity, body.unit, body.grade,
                                    body.location, body.insured_value.minor, body.insured_value.currency,
                                    body.expiry, bytes.fromhex(body.document_hash[2:]), body.document_cid))
    return IssuedOut(receipt_id=rid, **tx_out(client.last_receipt).model_dump())


@router.post("/{receipt_id}/pledge", response_model=TxOut, responses=WRITE)
def pledge_receipt(receipt_id: SmallId, body: PledgeIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """A direct pledge to a lender: the receipt is locked, and the lender may take it only after
    maturity + grace (fixed now)."""
    return tx_out(ctx.act(caller, party=_party(receipt_id)).receipts.pledge(receipt_id, body.lender, body.maturity,
                                                                            body.grace_period))


@router.post("/{receipt_id}/release", response_model=TxOut, responses=WRITE)
def release_pledge(receipt_id: SmallId, ctx: Ctx, caller: CallerDep) -> TxOut:
    return tx_out(ctx.act(caller, Role.LENDER, party=_party(receipt_id)).receipts.release_pledge(receipt_id))


@router.post("/{receipt_id}/enforce", response_model=TxOut, responses=WRITE)
def enforce_pledge(receipt_id: SmallId, body: EnforceIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """The pledgee takes the receipt (only after the pledge's maturity + grace)."""
    c = ctx.act(caller, Role.LENDER, party=_party(receipt_id))
    return tx_out(c.receipts.enforce_pledge(receipt_id, body.to or caller.address))


@router.post("/{receipt_id}/redemption-request", response_model=TxOut, responses=WRITE)
def request_redemption(receipt_id: SmallId, ctx: Ctx, caller: CallerDep) -> TxOut:
    return tx_out(ctx.act(caller, party=_party(receipt_id)).receipts.request_redemption(receipt_id))


@router.post("/{receipt_id}/redeem", response_model=TxOut, responses=WRITE)
def redeem_receipt(receipt_id: SmallId, ctx: Ctx, caller: CallerDep) -> TxOut:
    return tx_out(ctx.act(caller, Role.WAREHOUSE, party=_party(receipt_id)).receipts.redeem(receipt_id))
