"""Warehouse receipts: warehouses issue and redeem, holders pledge, lenders release or enforce."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from chain.contracts import ReceiptTerms, Role

from ..deps import CallerDep, Ctx, require
from ..models import Address, Amount, Hash32, MinorUnits, TxOut, tx_out
from ..problems import not_found
from ..read_model import receipt_scope, receipts
from .common import PagingDep, page_out, read_model, receipt_out

router = APIRouter(prefix="/receipts", tags=["warehouse receipts"])

ReceiptId = Annotated[int, Path(ge=1, lt=2**63)]


class ReceiptIn(BaseModel):
    depositor: Address
    commodity: str = Field(min_length=1, max_length=200)
    quantity: MinorUnits = Field(description="integer quantity in `unit`")
    unit: str = Field(min_length=1, max_length=32)
    grade: str = Field(default="", max_length=200)
    location: str = Field(pattern=r"^[A-Z]{2}[A-Z0-9]{3}$", description="UN/LOCODE of the warehouse")
    insured_value: Amount
    expiry: int = Field(ge=0, lt=2**63)
    document_hash: Hash32
    document_cid: str = Field(min_length=1, max_length=128)


class PledgeIn(BaseModel):
    lender: Address


class IssuedOut(TxOut):
    receipt_id: int


@router.get("")
def list_receipts(ctx: Ctx, caller: CallerDep, p: PagingDep, pledged: bool | None = None) -> dict:
    where = [receipt_scope(caller)]
    if pledged is not None:
        where.append(receipts.c.pledgee.is_not(None) if pledged else receipts.c.pledgee.is_(None))
    rows, total = read_model(ctx).page(receipts, where, [receipts.c.id], p.limit, p.offset)
    return page_out([receipt_out(r) for r in rows], total, p)


@router.get("/{receipt_id}")
def get_receipt(receipt_id: ReceiptId, ctx: Ctx, caller: CallerDep) -> dict:
    row = read_model(ctx).one(receipts, receipts.c.id == receipt_id, receipt_scope(caller))
    if row is None:
        raise not_found("receipt", receipt_id)
    return receipt_out(row)


def _party_receipt(ctx, caller, receipt_id: int) -> None:
    """Writes check the caller's relation on the chain itself (the read model may lag a block)."""
    from chain import errors

    try:
        r = ctx.deployment.receipts(ctx.chain).receipt(receipt_id)
    except errors.UnknownReceipt:
        raise not_found("receipt", receipt_id) from None
    if caller.address not in (r.warehouse, r.holder, r.pledgee):
        raise not_found("receipt", receipt_id)


@router.post("", response_model=IssuedOut, status_code=201)
def issue_receipt(body: ReceiptIn, ctx: Ctx, caller: CallerDep) -> IssuedOut:
    require(caller, Role.WAREHOUSE)
    client = ctx.deployment.receipts(ctx.chain, ctx.signer(caller))
    rid = client.issue(ReceiptTerms(body.depositor, body.commodity, body.quantity, body.unit, body.grade,
                                    body.location, body.insured_value.minor, body.insured_value.currency,
                                    body.expiry, bytes.fromhex(body.document_hash[2:]), body.document_cid))
    return IssuedOut(receipt_id=rid, **tx_out(client.last_receipt).model_dump())


@router.post("/{receipt_id}/pledge", response_model=TxOut)
def pledge_receipt(receipt_id: ReceiptId, body: PledgeIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    _party_receipt(ctx, caller, receipt_id)
    return tx_out(ctx.deployment.receipts(ctx.chain, ctx.signer(caller)).pledge(receipt_id, body.lender))


@router.post("/{receipt_id}/release", response_model=TxOut)
def release_pledge(receipt_id: ReceiptId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.LENDER)
    _party_receipt(ctx, caller, receipt_id)
    return tx_out(ctx.deployment.receipts(ctx.chain, ctx.signer(caller)).release_pledge(receipt_id))


@router.post("/{receipt_id}/enforce", response_model=TxOut)
def enforce_pledge(receipt_id: ReceiptId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.LENDER)
    _party_receipt(ctx, caller, receipt_id)
    return tx_out(ctx.deployment.receipts(ctx.chain, ctx.signer(caller)).enforce_pledge(receipt_id))


@router.post("/{receipt_id}/redemption-request", response_model=TxOut)
def request_redemption(receipt_id: ReceiptId, ctx: Ctx, caller: CallerDep) -> TxOut:
    _party_receipt(ctx, caller, receipt_id)
    return tx_out(ctx.deployment.receipts(ctx.chain, ctx.signer(caller)).request_redemption(receipt_id))


@router.post("/{receipt_id}/redeem", response_model=TxOut)
def redeem_receipt(receipt_id: ReceiptId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.WAREHOUSE)
    _party_receipt(ctx, caller, receipt_id)
    return tx_out(ctx.deployment.receipts(ctx.chain, ctx.signer(caller)).redeem(receipt_id))
