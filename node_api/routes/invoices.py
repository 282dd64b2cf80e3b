"""Invoices: sellers tokenise (with the shipment and the purchase order behind them), buyers
confirm or dispute, holders cancel, split (multi-tier, 多级流转) and transfer parts; buyers pay
directly (T/T, and all parts of a split invoice in one payment); everyone party to one reads it,
and so does a lender that finances it or was offered it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from chain import errors
from chain.clients import InvoiceTerms, shipment_id
from chain.clients.tokens import NO_SHIPMENT
from chain.deployment import Clients
from chain.indexer.projections import invoice_payments
from chain.vocabulary import InvoiceState, Role

from ..anchors import check_anchoring
from ..answers import KEPT
from ..context import PartyOf
from ..deps import CallerDep, Ctx
from ..errors import InvalidInput
from ..models import Address, Amount, Hash32, MinorUnits, Money, Page, RequestModel, Text, TxOut, readable_model, \
    tx_out
from ..openapi import READ_ONE, WRITE, problems
from ..read_model import invoice_scope, invoices
from ..readable import Reader, reference_bytes, reference_text
from .common import PagingDep, ReaderDep, in_currency, page_out, read_model, token_id_param

router = APIRouter(prefix="/invoices", tags=["invoices"])

InvoiceIdPath = Annotated[str, Path(pattern=r"^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$",
                                    description="the invoice's id (its fingerprint), decimal or 0x-hex")]
STATES = InvoiceState.labels()
_parse_id = token_id_param("invoice_id", "an invoice")


def invoice_id_of(request: Request) -> int:
    return _parse_id(request)


class InvoiceIn(RequestModel):
    buyer: Address
    invoice_number: Text = Field(min_length=1, max_length=64)
    face_value: Amount = Field(description="in a currency the network settles in (one with a settlement token)")
    issue_date: int = Field(ge=0, lt=2**63, description="unix seconds")
    due_date: int = Field(ge=0, lt=2**63, description="unix seconds")
    document_hash: Hash32 = Field(description="sha-256 of the encrypted document (POST /documents gives it)")
    document_cid: Text = Field(min_length=1, max_length=128)
    transport_document: Text | None = Field(default=None, min_length=1, max_length=100,
                                            description="the B/L number of the goods invoiced (optional)")
    order_id: int = Field(default=0, ge=0, lt=2**63, description="the purchase order it is issued against (0: none)")


class ReasonIn(RequestModel):
    reason: Text = Field(min_length=1, max_length=500)


class SplitIn(RequestModel):
    face_values: list[MinorUnits] = Field(min_length=2, max_length=32,
                                          description="the parts' face values: they must sum to the invoice's")


class TransferIn(RequestModel):
    to: Address = Field(description="the new holder (a member: e.g. the seller's own supplier, tier 2)")


class PaymentIn(RequestModel):
    amount: MinorUnits = Field(description="minor units of the invoice's currency")
    payment_reference: Text = Field(min_length=1, max_length=64,
                                    description="the T/T's reference (kept on chain; up to 32 ASCII bytes stay "
                                                "readable, longer ones are hashed)")


class MintedOut(TxOut):
    invoice_id: str = Field(description="decimal: the invoice's id (its fingerprint)")
    invoice_id_hex: str


class SplitOut(TxOut):
    part_ids: list[str]


InvoiceOut = readable_model("InvoiceOut", "An invoice token (readable: names, LEIs, ISO times, display amounts).", {
    "id": str, "id_hex": str, "seller": str, "buyer": str, "holder": (str | None, None), "state": str,
    "invoice_number": str, "currency": str, "face_value": Money, "paid": Money, "open": Money,
    "issue_date": int, "due_date": int, "document_hash": str, "document_cid": str,
    "shipment_id": (str | None, None), "transport_document": (str | None, None), "order_id": (int | None, None),
    "parent_id": (str | None, None), "root_id": str, "part_index": (int | None, None),
    "financier": (str | None, None), "settled_by": (str | None, None), "cancel_reason": (str | None, None),
    "issued_block": int, "issued_at": int, "updated_block": int,
}, parties=("seller", "buyer", "holder"), times=("issue_date", "due_date", "issued_at"))


class InvoicePage(Page):
    items: list[InvoiceOut]  # type: ignore[valid-type]


PaymentOut = readable_model("PaymentOut", "A direct payment (T/T) of an invoice.", {
    "block_number": int, "log_index": int, "tx_hash": str, "invoice_id": str, "payer": str, "holder": str,
    "amount": Money, "paid_total": Money, "payment_ref": str, "payment_reference": (str | None, None),
    "timestamp": int}, parties=("payer", "holder"), times=("timestamp",))


class PaymentPage(Page):
    items: list[PaymentOut]  # type: ignore[valid-type]


def invoice_out(row: dict[str, Any], r: Reader) -> dict[str, Any]:
    out = r.row(row, parties=("seller", "buyer", "holder"), times=("issue_date", "due_date", "issued_at"),
                amounts={"face_value": "currency"})
    out["id"], out["id_hex"] = str(row["id"]), f"{row['id']:#x}"
    out["root_id"] = str(row["root_id"])
    out["parent_id"] = None if row["parent_id"] is None else str(row["parent_id"])
    out["paid"] = r.money(row["paid_total"], row["currency"])
    out["open"] = r.money(row["face_value"] - row["paid_total"], row["currency"])
    out["transport_document"] = r.reference(row["shipment_id"])
    return out


@router.get("", response_model=InvoicePage, dependencies=[KEPT])
def list_invoices(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep,
                  state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None,
                  currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
                  buyer: Address | None = None, seller: Address | None = None) -> dict:
    """The invoices the caller is party to (seller, buyer, holder), finances or was offered."""
    where = [invoice_scope(caller)]
    if state:
        where.append(invoices.c.state == state)
    if currency:
        where.append(invoices.c.currency == currency)
    if buyer:
        where.append(invoices.c.buyer == buyer)
    if seller:
        where.append(invoices.c.seller == seller)
    rows, total = read_model(ctx).page(invoices, where, [invoices.c.issued_block, invoices.c.id], p.limit, p.offset)
    return page_out([invoice_out(x, r) for x in rows], total, p)


def _visible(ctx: Ctx, caller: CallerDep, invoice_id: int) -> dict[str, Any]:
    return read_model(ctx).visible("invoice", f"{invoice_id:#x}", invoices, invoices.c.id == invoice_id,
                                   invoice_scope(caller))


@router.get("/{invoice_id}", response_model=InvoiceOut, responses=READ_ONE)
def get_invoice(invoice_id: InvoiceIdPath, request: Request, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    return invoice_out(_visible(ctx, caller, invoice_id_of(request)), r)


@router.get("/{invoice_id}/payments", response_model=PaymentPage, responses=READ_ONE)
def list_payments(invoice_id: InvoiceIdPath, request: Request, ctx: Ctx, caller: CallerDep, p: PagingDep,
                  r: ReaderDep) -> dict:
    """Direct payments (T/T, parts payments) of an invoice, with the running total."""
    row = _visible(ctx, caller, invoice_id_of(request))
    t = invoice_payments
    rows, total = read_model(ctx).page(t, [t.c.invoice_id == row["id"]], [t.c.block_number, t.c.log_index],
                                       p.limit, p.offset)
    items = []
    for x in rows:
        out = r.row(x, parties=("payer", "holder"), times=("timestamp",),
                    amounts={"amount": row["currency"], "paid_total": row["currency"]})
        out["invoice_id"], out["payment_reference"] = str(x["invoice_id"]), reference_text(x["payment_ref"])
        items.append(out)
    return page_out(items, total, p)


@router.get("/{invoice_id}/parts", response_model=InvoicePage, responses=READ_ONE)
def list_parts(invoice_id: InvoiceIdPath, request: Request, ctx: Ctx, caller: CallerDep, p: PagingDep,
               r: ReaderDep) -> dict:
    """The parts split from a root invoice (every tier), the live ones and the split ones."""
    row = _visible(ctx, caller, invoice_id_of(request))
    where = [invoices.c.root_id == row["root_id"], invoices.c.parent_id.is_not(None)]
    rows, total = read_model(ctx).page(invoices, where, [invoices.c.issued_block, invoices.c.part_index], p.limit,
                                       p.offset)
    return page_out([invoice_out(x, r) for x in rows], total, p)


@router.post("", response_model=MintedOut, status_code=201, responses=problems(409, 502))
def mint_invoice(body: InvoiceIn, ctx: Ctx, caller: CallerDep, request: Request) -> MintedOut:
    """Tokenise an invoice issued to an active buyer (the seller's node signs)."""
    client = ctx.act(caller, Role.SELLER).invoices
    currency = body.face_value.currency
    in_currency(request, currency)
    if currency not in ctx.deployment.settlement_tokens:
        raise InvalidInput("face_value.currency", f"the network has no settlement token for {currency}: "
                           f"one of {', '.join(sorted(ctx.deployment.settlement_tokens))}")
    check_anchoring(ctx, caller.address, body.document_cid, body.document_hash)
    shipment = shipment_id(body.transport_document) if body.transport_document else NO_SHIPMENT
    if body.transport_document:
        ctx.remember(shipment, body.transport_document)
    terms = InvoiceTerms(body.buyer, body.invoice_number, body.face_value.minor, currency, body.issue_date,
                         body.due_date, bytes.fromhex(body.document_hash[2:]), body.document_cid, shipment, body.order_id)
    invoice_id = client.mint(terms)
    return MintedOut(invoice_id=str(invoice_id), invoice_id_hex=f"{invoice_id:#x}",
                     **tx_out(client.last_receipt).model_dump())


def party_of(invoice_id: int, *which: str) -> PartyOf:
    """The invoice's `which` parties (seller is not on chain: buyer, holder) as the chain says."""

    def parties(c: Clients) -> list[str | None]:
        inv = c.invoices.invoice(invoice_id)
        return [{"buyer": inv.buyer, "holder": inv.holder}[w] for w in which]

    return PartyOf("invoice", f"{invoice_id:#x}", parties, errors.UnknownInvoice)


@router.post("/{invoice_id}/confirm", response_model=TxOut, responses=WRITE)
def confirm_invoice(invoice_id: InvoiceIdPath, request: Request, ctx: Ctx, caller: CallerDep) -> TxOut:
    """The buyer acknowledges the debt (確權): only a confirmed invoice can be financed."""
    iid = invoice_id_of(request)
    return tx_out(ctx.act(caller, Role.BUYER, party=party_of(iid, "buyer", "holder")).invoices.confirm(iid))


@router.post("/{invoice_id}/dispute", response_model=TxOut, responses=WRITE)
def dispute_invoice(invoice_id: InvoiceIdPath, body: ReasonIn, request: Request, ctx: Ctx,
                    caller: CallerDep) -> TxOut:
    """The buyer disputes an invoice it has not confirmed (it is cancelled)."""
    iid = invoice_id_of(request)
    return tx_out(ctx.act(caller, Role.BUYER, party=party_of(iid, "buyer", "holder")).invoices.dispute(iid,
                                                                                                     body.reason))


@router.post("/{invoice_id}/cancel", response_model=TxOut, responses=WRITE)
def cancel_invoice(invoice_id: InvoiceIdPath, body: ReasonIn, request: Request, ctx: Ctx,
                   caller: CallerDep) -> TxOut:
    """The holder withdraws an invoice that is not financed."""
    iid = invoice_id_of(request)
    return tx_out(ctx.act(caller, Role.SELLER, party=party_of(iid, "holder")).invoices.cancel(iid, body.reason))


@router.post("/{invoice_id}/split", response_model=SplitOut, responses=WRITE)
def split_invoice(invoice_id: InvoiceIdPath, body: SplitIn, request: Request, ctx: Ctx, caller: CallerDep) -> dict:
    """The holder splits a confirmed invoice into parts whose face values sum exactly to it; each
    part keeps the buyer, the due date and the lineage, and can be transferred or financed."""
    iid = invoice_id_of(request)
    c = ctx.act(caller, party=party_of(iid, "holder"))
    parts = c.invoices.split(iid, body.face_values)
    return {"part_ids": [str(x) for x in parts], **tx_out(c.invoices.last_receipt).model_dump()}


@router.post("/{invoice_id}/transfer", response_model=TxOut, responses=WRITE)
def transfer_invoice(invoice_id: InvoiceIdPath, body: TransferIn, request: Request, ctx: Ctx,
                     caller: CallerDep) -> TxOut:
    """The holder transfers the invoice (a part) to another member, e.g. to pay its own supplier."""
    iid = invoice_id_of(request)
    return tx_out(ctx.act(caller, party=party_of(iid, "holder")).invoices.transfer(body.to, iid))


def _pay(request: Request, ctx: Ctx, caller: CallerDep, invoice_id: int, body: PaymentIn, parts: bool) -> TxOut:
    c = ctx.act(caller, Role.BUYER, party=party_of(invoice_id, "buyer"))
    inv = c.invoices.invoice(invoice_id)
    in_currency(request, inv.currency)
    token = c.token(inv.currency)
    ref = reference_bytes(body.payment_reference)
    with ctx.spending(caller):
        token.approve(ctx.deployment.invoice_settlement, body.amount)
        if parts:
            return tx_out(c.settlement.pay_parts(invoice_id, body.amount, ref))
        return tx_out(c.settlement.pay_invoice(invoice_id, body.amount, ref))


@router.post("/{invoice_id}/payments", response_model=TxOut, responses=WRITE)
def pay_invoice(invoice_id: InvoiceIdPath, body: PaymentIn, request: Request, ctx: Ctx, caller: CallerDep) -> TxOut:
    """T/T: the buyer pays part or all of what is open on the invoice to its holder, with a
    payment reference; the invoice is Paid when the total reaches its face value."""
    return _pay(request, ctx, caller, invoice_id_of(request), body, parts=False)


@router.post("/{invoice_id}/parts/payments", response_model=TxOut, responses=WRITE)
def pay_parts(invoice_id: InvoiceIdPath, body: PaymentIn, request: Request, ctx: Ctx, caller: CallerDep) -> TxOut:
    """The buyer pays every live part of a split invoice (the root's id) in one call, pro rata
    to what is open on each; the rounding remainder goes one unit per part in order."""
    return _pay(request, ctx, caller, invoice_id_of(request), body, parts=True)

