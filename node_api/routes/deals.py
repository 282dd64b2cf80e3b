"""Receivable financing: sellers and lenders agree and sign terms, lenders fund, buyers repay,
parties withdraw their credits; lenders see their portfolio."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from eth_utils import keccak
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_, true

from chain import errors
from chain.contracts import Role
from chain.deal_client import DealTerms, Milestone
from chain.indexer.projections.deals import deal_milestones, deals

from ..context import Caller
from ..deps import CallerDep, Ctx, require
from ..models import Address, MinorUnits, TxOut, tx_out
from ..problems import bad_request, forbidden, not_found
from .common import PagingDep, money, page_out, read_model

router = APIRouter(tags=["deals"])

DealId = Annotated[int, Path(ge=1, lt=2**256)]
STATES = ("Accepted", "Funded", "Repaid", "Defaulted", "Cancelled", "Closed")
EVENT_CODES = ("DEPA", "ARRI", "LOAD", "DISC", "GTIN", "GTOT", "RECE", "CONF", "ISSU", "CUSC", "WHIN", "WHOU")


class MilestoneIn(BaseModel):
    transport_document: str = Field(min_length=1, max_length=100, description="B/L or booking reference")
    event_code: str = Field(pattern="^(" + "|".join(EVENT_CODES) + ")$")
    share_bps: int = Field(ge=1, le=10_000)


class TermsIn(BaseModel):
    deal_id: int = Field(ge=1, lt=2**256)
    invoice_id: int = Field(ge=1, lt=2**63)
    borrower: Address
    lender: Address
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    principal: MinorUnits
    fee: int = Field(ge=0, lt=2**128)
    maturity: int = Field(gt=0, lt=2**64)
    grace_period: int = Field(ge=0, lt=2**64)
    accept_by: int = Field(gt=0, lt=2**64)
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=8)

    def to_terms(self, ctx) -> DealTerms:
        token = ctx.deployment.settlement_tokens.get(self.currency)
        if token is None:
            raise bad_request("currency", f"no settlement token for {self.currency}")
        return DealTerms(self.deal_id, self.invoice_id, self.borrower, self.lender, token, self.principal, self.fee,
                         self.maturity, self.grace_period, self.accept_by,
                         tuple(Milestone(keccak(text=m.transport_document), m.event_code, m.share_bps)
                               for m in self.milestones))


class AcceptIn(BaseModel):
    terms: TermsIn
    borrower_signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")
    lender_signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class SignatureOut(BaseModel):
    signature: str
    terms_digest: str


def deal_scope(caller: Caller):
    if caller.has(Role.AUDITOR):
        return true()
    me = caller.address
    return or_(deals.c.borrower == me, deals.c.lender == me, deals.c.buyer == me)


def deal_out(row: dict, milestones: list[dict] | None = None) -> dict:
    cur = row["currency"]
    out = {k: v for k, v in row.items() if k not in ("principal", "fee", "face_value", "released", "to_lender",
                                                     "to_borrower", "deal_id")}
    out["deal_id"] = str(row["deal_id"])
    for k in ("principal", "fee", "face_value", "released", "to_lender", "to_borrower"):
        out[k] = None if row[k] is None else money(row[k], cur)
    if milestones is not None:
        out["milestones"] = [{**{k: v for k, v in m.items() if k not in ("deal_id", "amount")},
                              "amount": None if m["amount"] is None else money(m["amount"], cur)} for m in milestones]
    return out


@router.get("/deals")
def list_deals(ctx: Ctx, caller: CallerDep, p: PagingDep,
               state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None) -> dict:
    where = [deal_scope(caller)]
    if state:
        where.append(deals.c.state == state)
    rows, total = read_model(ctx).page(deals, where, [deals.c.accepted_block, deals.c.deal_id], p.limit, p.offset)
    return page_out([deal_out(r) for r in rows], total, p)


@router.get("/deals/{deal_id}")
def get_deal(deal_id: DealId, ctx: Ctx, caller: CallerDep) -> dict:
    rm = read_model(ctx)
    row = rm.one(deals, deals.c.deal_id == deal_id, deal_scope(caller))
    if row is None:
        raise not_found("deal", deal_id)
    ms = sorted(rm.all(deal_milestones, deal_milestones.c.deal_id == deal_id), key=lambda m: m["idx"])
    return deal_out(row, ms)


@router.post("/deals/terms/signature", response_model=SignatureOut)
def sign_terms(body: TermsIn, ctx: Ctx, caller: CallerDep) -> SignatureOut:
    """The caller (borrower or lender of these terms) signs them with its node-held key."""
    if caller.address not in (body.borrower, body.lender):
        raise forbidden("only the borrower or the lender of these terms can sign them")
    fin = ctx.deployment.financing(ctx.chain)
    terms = body.to_terms(ctx)
    return SignatureOut(signature="0x" + fin.sign_terms(ctx.signer(caller), terms).hex(),
                        terms_digest="0x" + fin.local_terms_digest(terms).hex())


@router.post("/deals", response_model=TxOut, status_code=201)
def accept_deal(body: AcceptIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """Submit terms signed by both parties. The borrower's node also lets the deal escrow take the
    invoice token; a lender submitting needs the borrower to have done that already."""
    if caller.address not in (body.terms.borrower, body.terms.lender):
        raise forbidden("only the borrower or the lender can submit the deal")
    key = ctx.signer(caller)
    fin = ctx.deployment.financing(ctx.chain, key)
    terms = body.terms.to_terms(ctx)
    if caller.address == body.terms.borrower:
        fin.approve_invoice(ctx.deployment.invoices(ctx.chain, key), terms.invoice_id)
    return tx_out(fin.accept(terms, bytes.fromhex(body.borrower_signature[2:]), bytes.fromhex(body.lender_signature[2:])))


def _party_deal(ctx, caller: Caller, deal_id: int):
    """Writes check the caller's relation on the chain itself (the read model may lag a block)."""
    try:
        d = ctx.deployment.financing(ctx.chain).deal(deal_id)
    except errors.UnknownDeal:
        raise not_found("deal", deal_id) from None
    if caller.address not in (d.borrower, d.lender, d.buyer):
        raise not_found("deal", deal_id)
    return d


@router.post("/deals/{deal_id}/fund", response_model=TxOut)
def fund_deal(deal_id: DealId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.LENDER)
    d = _party_deal(ctx, caller, deal_id)
    key = ctx.signer(caller)
    fin = ctx.deployment.financing(ctx.chain, key)
    fin.approve_payment(_token(ctx, d.token, key), d.principal)
    return tx_out(fin.fund(deal_id))


@router.post("/deals/{deal_id}/repay", response_model=TxOut)
def repay_deal(deal_id: DealId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.BUYER)
    d = _party_deal(ctx, caller, deal_id)
    key = ctx.signer(caller)
    fin = ctx.deployment.financing(ctx.chain, key)
    fin.approve_payment(_token(ctx, d.token, key), d.face_value)
    return tx_out(fin.repay(deal_id))


@router.post("/deals/{deal_id}/withdraw")
def withdraw(deal_id: DealId, ctx: Ctx, caller: CallerDep) -> dict:
    d = _party_deal(ctx, caller, deal_id)
    fin = ctx.deployment.financing(ctx.chain, ctx.signer(caller))
    amount = fin.withdraw(deal_id)
    currency = ctx.deployment.currency_by_token.get(d.token, "???")
    return {"withdrawn": money(amount, currency), **tx_out(fin.last_receipt).model_dump()}


@router.post("/deals/{deal_id}/default", response_model=TxOut)
def declare_default(deal_id: DealId, ctx: Ctx, caller: CallerDep) -> TxOut:
    require(caller, Role.LENDER)
    _party_deal(ctx, caller, deal_id)
    return tx_out(ctx.deployment.financing(ctx.chain, ctx.signer(caller)).declare_default(deal_id))


@router.post("/deals/{deal_id}/cancel", response_model=TxOut)
def cancel_deal(deal_id: DealId, ctx: Ctx, caller: CallerDep) -> TxOut:
    _party_deal(ctx, caller, deal_id)
    return tx_out(ctx.deployment.financing(ctx.chain, ctx.signer(caller)).cancel(deal_id))


def _token(ctx, address: str, key):
    currency = ctx.deployment.currency_by_token[address]
    return ctx.deployment.token(ctx.chain, currency, key)


@router.get("/portfolio")
def portfolio(ctx: Ctx, caller: CallerDep) -> dict:
    """A lender's book: outstanding advances by obligor and currency, fees due, overdue deals.
    (Per-obligor exposure limits are not on chain yet: `limits` stays empty until they are.)"""
    require(caller, Role.LENDER)
    rows = read_model(ctx).all(deals, deals.c.lender == caller.address)
    outstanding: dict[tuple[str, str], int] = defaultdict(int)
    fees: dict[str, int] = defaultdict(int)
    overdue = []
    for r in rows:
        if r["state"] == "Funded":
            outstanding[(r["buyer"] or "?", r["currency"])] += r["principal"]
            fees[r["currency"]] += r["fee"]
            if r["overdue_flagged"]:
                overdue.append(str(r["deal_id"]))
    return {"lender": caller.address, "deals": len(rows),
            "by_obligor": [{"obligor": o, "outstanding": money(v, c)} for (o, c), v in sorted(outstanding.items())],
            "fees_due": [money(v, c) for c, v in sorted(fees.items())], "overdue_deals": overdue, "limits": []}
