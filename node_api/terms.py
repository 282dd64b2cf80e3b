"""Deal terms at the API boundary, for every product: the request shape, the checks made before
anything is signed or sent, and the EIP-712 ``DealTerms`` they become.

A request names the product, its collateral (an invoice, a purchase order, a warehouse receipt;
none for a documentary payment), the parties, amounts in the deal's currency, maturity, grace and
the offer's expiry, the B/L number the milestones wait for and the milestones themselves (DCSA
event code and UN/LOCODE, or an advance at funding), an FX lock for a collateral in another
currency, and a documentary credit's terms. The node derives the rest:

- ``shipmentId`` = keccak256 of the B/L number (``chain.clients.shipment_id``);
- ``nonce``: the one given, else keccak256 of the request itself (so both parties, signing the
  same request on their own nodes, sign the same digest);
- ``agreementHash``: the sha-256 of the financing agreement rendered from these terms
  (``node_api.agreements``), so signing the terms signs the agreement;
- ``extra``: ``abi.encode(CreditTerms)`` for a documentary payment.

:func:`prepare` checks the request against the chain (the collateral exists, is the borrower's,
its currency and amount cover the terms, dates lie ahead of chain time) and answers 422 naming the
field; the contracts still have the last word at acceptance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from eth_utils import keccak
from pydantic import Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import select

from chain import errors
from chain.clients import CreditTerms, DealTerms, Milestone, RequiredDocument, shipment_id
from chain.clients.tokens import NO_SHIPMENT
from chain.indexer.projections import invoices, purchase_orders
from chain.money import MINOR_UNITS, max_minor
from chain.vocabulary import BPS, DOCUMENT_TYPE_NAMES, EVENT_CODES, Product

from .context import NodeContext
from .errors import InvalidInput, NotFound
from .models import Address, Hash32, MinorUnits, RequestModel, Text, TokenId

ProductName = Literal["Receivable", "Order", "ReceiptPledge", "Documentary"]
PRODUCTS: dict[str, Product] = {p.label: p for p in (Product.RECEIVABLE, Product.ORDER, Product.RECEIPT_PLEDGE,
                                                       Product.DOCUMENTARY)}
LOCODE = r"^([A-Z]{2}[A-Z0-9]{3})?$"
MAX_GRACE = 365 * 86_400


class MilestoneIn(RequestModel):
    event_code: str = Field(default="", pattern="^(" + "|".join(("", *EVENT_CODES)) + ")$",
                            description="DCSA event code (DEPA, ARRI, ...); empty: an advance released at funding")
    location: str = Field(default="", pattern=LOCODE, description="UN/LOCODE of the transport call; empty: any")
    share_bps: int = Field(ge=1, le=BPS, description="share of the principal, basis points")


class DocumentIn(RequestModel):
    doc_type: Literal[tuple(DOCUMENT_TYPE_NAMES)] = Field(  # type: ignore[valid-type]
        description="BLAD bill of lading, CINV commercial invoice, PKLS packing list, CORG certificate of origin, "
                    "INSC insurance certificate")
    expected_hash: Hash32 | None = Field(default=None, description="sha-256 the document must have (none: any)")


class CreditIn(RequestModel):
    """A documentary payment's credit terms (``DocumentaryCredit.CreditTerms``)."""

    applicant: Address = Field(description="the buyer (an active BUYER) whose credit this is")
    presenter: Address = Field(description="who presents the documents: the beneficiary or its bank")
    latest_shipment: int = Field(gt=0, lt=2**40, description="the bill of lading's latest date, unix seconds")
    documents: list[DocumentIn] = Field(min_length=1, max_length=8)

    @field_validator("documents")
    @classmethod
    def _distinct(cls, docs: list[DocumentIn]) -> list[DocumentIn]:
        types = [d.doc_type for d in docs]
        if len(set(types)) != len(types):
            raise ValueError("a document type is required twice")
        return docs


def _fee(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, str) and not v.isascii()):
        raise ValueError("fee must be an integer number of minor units")
    if isinstance(v, str) and not v.isdigit():
        raise ValueError("fee must be an integer number of minor units in ASCII digits")
    return int(v)


class TermsIn(RequestModel):
    """Deal terms of any product (see the module notes)."""

    product: ProductName = "Receivable"
    collateral_id: TokenId = Field(default=0, description="invoice id (its fingerprint), order id or receipt id; "
                                                          "0 for a documentary payment")
    borrower: Address
    lender: Address
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="the deal's settlement currency")
    principal: MinorUnits
    fee: int = Field(default=0, ge=0, lt=2**96, description="minor units of the deal's currency")
    maturity: int = Field(gt=0, lt=2**40, description="unix seconds (a documentary credit's expiry)")
    grace_period: int = Field(default=0, ge=0, le=MAX_GRACE, description="seconds")
    accept_by: int = Field(gt=0, lt=2**64, description="the offer expires at, unix seconds")
    transport_document: Text | None = Field(default=None, min_length=1, max_length=100,
                                            description="the B/L (or booking) number the milestones wait for")
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=8)
    fx_valid_until: int = Field(default=0, ge=0, lt=2**40,
                                description="FX lock valid until (a collateral in another currency), unix seconds")
    nonce: Hash32 | None = Field(default=None, description="0x + 64 hex; default: derived from these terms")
    credit: CreditIn | None = Field(default=None, description="documentary payments only")

    @field_validator("fee", mode="before")
    @classmethod
    def _fee_digits(cls, v: object) -> int:
        return _fee(v)

    @field_validator("milestones")
    @classmethod
    def _schedule(cls, ms: list[MilestoneIn]) -> list[MilestoneIn]:
        total = sum(m.share_bps for m in ms)
        if total != BPS:
            raise ValueError(f"milestone shares sum to {total} bps; they must sum to {BPS}")
        pairs = [(m.event_code, m.location) for m in ms]
        if len(set(pairs)) != len(pairs):
            raise ValueError("an (event code, location) milestone appears twice")
        if any(not m.event_code and m.location for m in ms):
            raise ValueError("an advance (no event code) has no location")
        return ms

    @field_validator("lender")
    @classmethod
    def _two_parties(cls, v: str, info: ValidationInfo) -> str:
        if v == info.data.get("borrower"):
            raise ValueError("the lender cannot be the borrower")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "TermsIn":
        if self.currency not in MINOR_UNITS:
            raise _field("currency", f"unsupported currency {self.currency}")
        if self.principal + self.fee > max_minor(self.currency):
            raise _field("principal", f"principal + fee exceed {max_minor(self.currency)} minor units of "
                                      f"{self.currency}")
        if self.accept_by > self.maturity:
            raise _field("accept_by", "the offer must expire before maturity")
        if any(m.event_code for m in self.milestones) and not self.transport_document:
            raise _field("transport_document", "milestones that wait for shipment events need the B/L number")
        documentary = self.product == "Documentary"
        if documentary != (self.credit is not None):
            raise _field("credit", "a documentary payment needs its credit terms; other products take none")
        if documentary and (self.collateral_id or self.fee or self.grace_period):
            raise _field("collateral_id", "a documentary payment has no collateral, no fee and no grace period")
        if not documentary and not self.collateral_id:
            raise _field("collateral_id", "the collateral's id is required")
        if self.fx_valid_until and self.fx_valid_until < self.maturity:
            raise _field("fx_valid_until", "an FX lock must last at least until maturity")
        return self

    def request_nonce(self) -> bytes:
        """The nonce given, or keccak256 of the canonical request without it."""
        if self.nonce:
            return bytes.fromhex(self.nonce[2:])
        body = self.model_dump(mode="json", exclude={"nonce"})
        return keccak(b"tradenet.terms.nonce.v1" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


class _FieldError(ValueError):
    pass


def _field(field: str, detail: str) -> ValueError:
    """A model-level check's failure, naming its field (pydantic reports it at the model: the
    problem handler would say ``body``; InvalidInput names the field)."""
    return InvalidInput(field, detail)  # type: ignore[return-value]


@dataclass(frozen=True)
class Collateral:
    """What the agreement says about the collateral (read from the chain: its state and the terms its
    mint logged)."""

    kind: str  # "invoice", "purchase order", "warehouse receipt", "none"
    ident: int
    currency: str
    amount: int  # face value, order amount, insured value
    obligor: str | None  # who pays at maturity (an invoice's buyer); None if the borrower repays
    details: dict[str, Any]


@dataclass(frozen=True)
class Prepared:
    """Checked terms (``agreement_hash`` still zero) and the facts the agreement states."""

    request: TermsIn
    product: Product
    terms: DealTerms
    collateral: Collateral
    transport_document: str | None

    def with_agreement(self, agreement_hash: bytes) -> DealTerms:
        return replace(self.terms, agreement_hash=agreement_hash)


def prepare(ctx: NodeContext, t: TermsIn) -> Prepared:
    """Checks the terms against the chain (see the module notes) and builds the DealTerms."""
    product = PRODUCTS[t.product]
    d = ctx.deployment
    token = d.settlement_tokens.get(t.currency)
    if token is None:
        raise InvalidInput("currency", f"the network has no settlement token for {t.currency}: one of "
                                       f"{', '.join(sorted(d.settlement_tokens))}")
    module = d.product_modules.get(product)
    if not module:
        raise InvalidInput("product", f"this network runs no {product.title} module")
    now = ctx.chain_time()
    if t.maturity <= now:
        raise InvalidInput("maturity", f"maturity must be after chain time {_iso(now)}")
    if t.accept_by < now:
        raise InvalidInput("accept_by", f"the offer would already have expired (chain time {_iso(now)})")
    shipment = shipment_id(t.transport_document) if t.transport_document else NO_SHIPMENT
    collateral = _collateral(ctx, t, product, shipment)
    extra = b""
    if t.credit is not None:
        extra = CreditTerms(t.credit.applicant, t.credit.presenter, t.credit.latest_shipment,
                            tuple(RequiredDocument(doc.doc_type, bytes.fromhex(doc.expected_hash[2:])
                                                   if doc.expected_hash else bytes(32))
                                  for doc in t.credit.documents)).encode()
    terms = DealTerms(
        product=module, collateral_id=t.collateral_id, borrower=t.borrower, lender=t.lender, settlement_token=token,
        principal=t.principal, fee=t.fee, maturity=t.maturity, grace_period=t.grace_period, accept_by=t.accept_by,
        milestones=tuple(Milestone(m.event_code, m.share_bps, m.location) for m in t.milestones),
        shipment_id=shipment, fx_valid_until=t.fx_valid_until, nonce=t.request_nonce(), extra=extra)
    if t.transport_document:
        ctx.remember(shipment, t.transport_document)
    return Prepared(t, product, terms, collateral, t.transport_document)


def _iso(ts: int) -> str:
    from .readable import iso

    return iso(ts) or str(ts)


def _collateral(ctx: NodeContext, t: TermsIn, product: Product, shipment: bytes) -> Collateral:
    c = ctx.clients()
    if product is Product.RECEIVABLE:
        try:
            inv = c.invoices.invoice(t.collateral_id)
        except errors.UnknownInvoice:
            raise InvalidInput("collateral_id", f"no invoice {t.collateral_id:#x}") from None
        if inv.holder != t.borrower:
            raise InvalidInput("borrower", f"the borrower must hold the invoice (its holder is {inv.holder})")
        open_amount = inv.face_value - c.settlement.paid_of(t.collateral_id)
        _currency_rule(t, inv.currency, open_amount, "the invoice")
        if t.maturity < inv.due_date:
            raise InvalidInput("maturity", f"maturity must not be before the invoice's due date {_iso(inv.due_date)}")
        if inv.shipment_id and shipment != NO_SHIPMENT and inv.shipment_id != shipment:
            raise InvalidInput("transport_document", "the invoice is bound to another shipment")
        issued = _issued(ctx, c.invoices, invoices, "InvoiceIssued", inv.root_id or t.collateral_id)  # a part keeps its root's
        return Collateral("invoice", t.collateral_id, inv.currency, inv.face_value, inv.buyer, {
            "number": issued["invoiceNumber"], "issue_date": issued["issueDate"], "due_date": inv.due_date,
            "open": open_amount, "document_hash": "0x" + bytes(issued["documentHash"]).hex()})
    if product is Product.ORDER:
        try:
            order = c.orders.order(t.collateral_id)
        except errors.UnknownOrder:
            raise InvalidInput("collateral_id", f"no purchase order {t.collateral_id}") from None
        if order.supplier != t.borrower:
            raise InvalidInput("borrower", f"the borrower must be the order's supplier {order.supplier}")
        _currency_rule(t, order.currency, None, "the order")
        issued = _issued(ctx, c.orders, purchase_orders, "OrderIssued", t.collateral_id)
        return Collateral("purchase order", t.collateral_id, order.currency, order.amount, None, {
            "number": issued["orderNumber"], "goods": issued["goods"], "quantity": issued["quantity"],
            "unit": issued["unit"], "delivery_date": order.delivery_date, "buyer": order.buyer})
    if product is Product.RECEIPT_PLEDGE:
        try:
            r = c.receipts.receipt(t.collateral_id)
        except errors.UnknownReceipt:
            raise InvalidInput("collateral_id", f"no warehouse receipt {t.collateral_id}") from None
        if r.holder != t.borrower:
            raise InvalidInput("borrower", f"the borrower must hold the receipt (its holder is {r.holder})")
        if t.maturity + t.grace_period >= r.expiry:
            raise InvalidInput("maturity", f"maturity + grace must end before the receipt expires on {_iso(r.expiry)}")
        return Collateral("warehouse receipt", t.collateral_id, r.currency, r.insured_value, None, {
            "commodity": r.commodity, "quantity": r.quantity, "unit": r.unit, "grade": r.grade,
            "location": r.location, "expiry": r.expiry, "warehouse": r.warehouse})
    assert t.credit is not None
    if t.credit.latest_shipment > t.maturity:
        raise InvalidInput("credit.latest_shipment", "the latest shipment date must not be after the expiry")
    return Collateral("none", 0, t.currency, t.principal, None, {
        "applicant": t.credit.applicant, "presenter": t.credit.presenter,
        "latest_shipment": t.credit.latest_shipment,
        "documents": [(doc.doc_type, doc.expected_hash) for doc in t.credit.documents]})


def _currency_rule(t: TermsIn, collateral_currency: str, covers: int | None, what: str) -> None:
    if collateral_currency != t.currency:
        if not t.fx_valid_until:
            raise InvalidInput("currency", f"{what} is in {collateral_currency}, the terms in {t.currency}: a "
                                           "cross-currency deal needs an FX lock (fx_valid_until)")
        return
    if t.fx_valid_until:
        raise InvalidInput("fx_valid_until", f"{what} is in {t.currency} like the deal: no FX lock")
    if covers is not None and t.principal + t.fee > covers:
        raise InvalidInput("principal", f"principal + fee ({t.principal + t.fee}) exceed what is open on {what} "
                                        f"({covers})")


def _issued(ctx: NodeContext, token: Any, table: Any, event: str, ident: int) -> dict[str, Any]:
    """The terms a collateral's mint logged (number, dates, goods, document hash: the agreement
    states them, and the token does not store them), read from the chain, not the read model: two
    nodes, or one node a block behind its chain, must render the same agreement, or the signatures
    given over one would not verify against the other. The read model (`table`) only says where to
    look (the mint's block, once indexed); otherwise the chain is searched from the deployment on."""
    with ctx.db.connect() as c:
        block = c.execute(select(table.c.issued_block).where(table.c.id == ident)).scalar()
    args = token.logged_args(event, "id", ident, block, block) if block is not None else None
    if args is None:  # not indexed yet (or the read model's block was reorged away)
        args = token.logged_args(event, "id", ident, ctx.deployment.deploy_block)
    if args is None:  # pragma: no cover - the token exists, so its mint was logged (unless the node prunes logs)
        raise NotFound(f"{event} log of", f"{ident:#x} on the chain node")
    return args["terms"]


def terms_out(terms: DealTerms) -> dict[str, Any]:
    """DealTerms as JSON (integers as decimal strings, bytes as 0x-hex): how offers store them."""
    return {"product": terms.product, "collateral_id": str(terms.collateral_id), "borrower": terms.borrower,
            "lender": terms.lender, "settlement_token": terms.settlement_token, "principal": str(terms.principal),
            "fee": str(terms.fee), "maturity": terms.maturity, "grace_period": terms.grace_period,
            "accept_by": terms.accept_by, "fx_valid_until": terms.fx_valid_until,
            "shipment_id": "0x" + terms.shipment_id.hex(), "agreement_hash": "0x" + terms.agreement_hash.hex(),
            "nonce": "0x" + terms.nonce.hex(), "extra": "0x" + terms.extra.hex(),
            "milestones": [{"event_code": m.event_code, "location": m.location, "share_bps": m.share_bps}
                           for m in terms.milestones]}


def terms_in(data: dict[str, Any]) -> DealTerms:
    """The inverse of :func:`terms_out`."""
    return DealTerms(
        product=data["product"], collateral_id=int(data["collateral_id"]), borrower=data["borrower"],
        lender=data["lender"], settlement_token=data["settlement_token"], principal=int(data["principal"]),
        fee=int(data["fee"]), maturity=int(data["maturity"]), grace_period=int(data["grace_period"]),
        accept_by=int(data["accept_by"]), fx_valid_until=int(data["fx_valid_until"]),
        shipment_id=bytes.fromhex(data["shipment_id"][2:]), agreement_hash=bytes.fromhex(data["agreement_hash"][2:]),
        nonce=bytes.fromhex(data["nonce"][2:]), extra=bytes.fromhex(data["extra"][2:]),
        milestones=tuple(Milestone(m["event_code"], int(m["share_bps"]), m["location"]) for m in data["milestones"]))


__all__ = ["CreditIn", "DocumentIn", "MilestoneIn", "PRODUCTS", "Prepared", "TermsIn", "prepare", "terms_in",
           "terms_out"]
