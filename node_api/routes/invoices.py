"""Invoices: sellers tokenise, buyers confirm or dispute, everyone party to one reads it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from chain.contracts import InvoiceTerms, Role

from ..deps import CallerDep, Ctx, require
from ..models import Address, Amount, Hash32, TxOut, tx_out
from ..problems import not_found
from ..read_model import invoice_scope, invoices
from .common import PagingDep, invoice_out, page_out, read_model

router = APIRouter(prefix="/invoices", tags=["invoices"])

InvoiceId = Annotated[int, Path(ge=1, lt=2**63)]
STATES = ("Issued", "Confirmed", "Financed", "Paid", "Defaulted", "Cancelled", "Split")


class InvoiceIn(BaseModel):
    buyer: Address
    invoice_number: str = Field(min_length=1, max_length=64)
    face_value: Amount
    issue_date: int = Field(ge=0, lt=2**63, description="unix seconds")
    due_date: int = Field(ge=0, lt=2**63, description="unix seconds")
    document_hash: Hash32 = Field(description="sha-256 of the encrypted document (POST /documents gives it)")
    document_cid: str = Field(min_length=1, max_length=128)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class MintedOut(TxOut):
    invoice_id: int


@router.get("")
def list_invoices(ctx: Ctx, caller: CallerDep, p: PagingDep,
                  state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None,
                  currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
                  buyer: Address | None = None, seller: Address | None = None) -> dict:
    where = [invoice_scope(caller)]
    if state:
        where.append(invoices.c.state == state)
    if currency:
        where.append(invoices.c.currency == currency)
    if buyer:
        where.append(invoices.c.buyer == buyer)
    if seller:
        where.append(invoices.c.seller == seller)
    rows, total = read_model(ctx).page(invoices, where, [invoices.c.id], p.limit, p.offset)
    return page_out([invoice_out(r) for r in rows], total, p)


@router.get("/{invoice_id}")
def get_invoice(invoice_id: InvoiceId, ctx: Ctx, caller: CallerDep) -> dict:
    row = read_model(ctx).one(invoices, invoices.c.id == invoice_id, invoice_scope(caller))
    if row is None:
        raise not_found("invoice", invoice_id)
    return invoice_out(row)


@router.post("", response_model=MintedOut, status_code=201)
def mint_invoice(body: InvoiceIn, ctx: Ctx, caller: CallerDep) -> MintedOut:
    require(caller, Role.SELLER)
    client = ctx.deployment.invoices(ctx.chain, ctx.signer(caller))
    terms = InvoiceTerms(body.buyer, body.invoice_number, body.face_value.minor, body.face_value.currency,
                         body.issue_date, body.due_date, bytes.fromhex(body.document_hash[2:]), body.document_cid)
    invoice_id = client.mint(terms)
    return MintedOut(invoice_id=invoice_id, **tx_out(client.last_receipt).model_dump())


def _party_invoice(ctx, caller, invoice_id: int) -> None:
    """Writes check the caller's relation on the chain itself (the read model may lag a block)."""
    from chain import errors

    try:
        inv = ctx.deployment.invoices(ctx.chain).invoice(invoice_id)
    except errors.UnknownInvoice:
        raise not_found("invoice", invoice_id) from None
    if caller.address not in (inv.seller, inv.buyer, inv.holder):
        raise not_found("invoice", invoice_id)


@router.post("/{invoice_id}/confirm", response_model=TxOut)
def confirm_invoice(invoice_id: InvoiceId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.BUYER)
    _party_invoice(ctx, caller, invoice_id)
    return tx_out(ctx.deployment.invoices(ctx.chain, ctx.signer(caller)).confirm(invoice_id))


@router.post("/{invoice_id}/dispute", response_model=TxOut)
def dispute_invoice(invoice_id: InvoiceId, body: ReasonIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.BUYER)
    _party_invoice(ctx, caller, invoice_id)
    return tx_out(ctx.deployment.invoices(ctx.chain, ctx.signer(caller)).dispute(invoice_id, body.reason))


@router.post("/{invoice_id}/cancel", response_model=TxOut)
def cancel_invoice(invoice_id: InvoiceId, body: ReasonIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.SELLER)
    _party_invoice(ctx, caller, invoice_id)
    return tx_out(ctx.deployment.invoices(ctx.chain, ctx.signer(caller)).cancel(invoice_id, body.reason))
