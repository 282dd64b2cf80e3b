"""Deals of every product on the one deal engine: terms (preview, sign, revoke), acceptance,
funding (with the four-eyes approval of a second key), releases (poke), repayment, withdrawal,
default, cancellation, overdue flags, an order financing's rollover into its invoice, a
documentary credit's presentations and waiver, and the agreement each deal's parties signed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from chain import errors
from chain.deployment import Clients
from chain.vocabulary import DealState, Product, Role

from .. import agreements
from ..answers import KEPT_AT_CLOCK, ChainNow
from ..context import Caller, NodeContext, PartyOf
from ..deal_views import deal_out
from ..deps import CallerDep, Ctx
from ..errors import Forbidden, InvalidInput, NotFound
from ..models import Hash32, JsonObject, Money, Page, RequestModel, TokenId, TxOut, tx_out
from ..openapi import READ_ONE, WRITE, problems
from ..read_model import deal_scope, deals
from ..terms import Prepared, TermsIn, prepare, terms_out
from .common import PagingDep, ReaderDep, SmallId, in_currency, page_out, read_model

router = APIRouter(tags=["deals"])
STATES = DealState.labels()
SIGNATURE = r"^0x[0-9a-fA-F]{130}$"


class AcceptIn(RequestModel):
    terms: TermsIn
    borrower_signature: str | None = Field(default=None, pattern=SIGNATURE, description="none if the borrower submits")
    lender_signature: str | None = Field(default=None, pattern=SIGNATURE, description="none if the lender submits")


class TermsPreviewOut(BaseModel):
    terms: JsonObject = Field(description="the EIP-712 DealTerms message (integers as decimal strings, bytes as 0x-hex)")
    typed_data: JsonObject = Field(description="the full EIP-712 typed data a wallet signs (eth_signTypedData_v4)")
    terms_digest: str
    agreement_hash: str = Field(description="sha-256 of the agreement document: GET /agreements/{hash}")
    milestone_amounts: list[Money]
    agreement_title: str


class SignatureOut(BaseModel):
    signature: str
    terms_digest: str
    agreement_hash: str


class AcceptedOut(TxOut):
    deal_id: int


class WithdrawnOut(TxOut):
    withdrawn: Money


class RolloverIn(RequestModel):
    invoice_id: TokenId = Field(description="the confirmed invoice issued against the deal's purchase order")


class PresentIn(RequestModel):
    doc_type: str = Field(pattern=r"^(BLAD|CINV|PKLS|CORG|INSC)$")
    document_hash: Hash32 = Field(description="sha-256 of the document (POST /documents gives it)")
    document_date: int = Field(gt=0, lt=2**40, description="the document's date (a B/L: shipped on board)")


class MilestoneOut(BaseModel):
    idx: int
    event_code: str
    event_name: str | None
    location: str
    location_name: str | None
    share_bps: int
    share: str
    amount: Money
    status: str
    event_id: str | None
    released_block: int | None
    contested_event_id: str | None
    contested_block: int | None


class DealOut(BaseModel):
    """A deal (readable). `milestones`, `credits`, `fx_lock` and `credit` only on GET /deals/{id}."""

    deal_id: int
    product: str
    product_title: str
    product_module: str
    collateral_id: str
    collateral_kind: str
    borrower: str
    borrower_name: str | None
    borrower_lei: str | None
    lender: str
    lender_name: str | None
    lender_lei: str | None
    obligor: str | None
    obligor_name: str | None
    obligor_lei: str | None
    obligation: Money | None
    obligation_currency: str | None
    token: str
    currency: str | None
    principal: Money | None
    fee: Money | None
    released: Money | None
    outstanding: Money | None
    amount_due: Money | None
    to_lender: Money | None
    to_borrower: Money | None
    unreleased_returned: Money | None
    overdue_owed: Money | None
    maturity: int
    maturity_iso: str | None
    grace_period: int
    defaultable_after: int
    defaultable_after_iso: str | None
    accept_by: int
    accept_by_iso: str | None
    fx_valid_until: int
    fx_valid_until_iso: str | None
    shipment_id: str | None
    transport_document: str | None
    agreement_hash: str
    nonce: str
    terms_digest: str
    submitter: str
    state: str
    live: bool
    overdue: bool = Field(description="funded and past maturity (chain time)")
    expired_offer: bool
    overdue_flagged: bool
    overdue_counted: bool
    assignment_approved_to: str | None
    accepted_block: int
    accepted_at: int
    accepted_at_iso: str | None
    funded_block: int | None
    funded_at: int | None
    funded_at_iso: str | None
    settled_block: int | None
    settled_at: int | None
    settled_at_iso: str | None
    closed_block: int | None
    updated_block: int
    clock: str = Field(description="`chain`: times are compared with the chain's time")
    as_of: int
    as_of_iso: str | None
    milestones: list[MilestoneOut] | None = None
    credits: list[JsonObject] | None = None
    fx_lock: JsonObject | None = None
    credit: JsonObject | None = None


class DealPage(Page):
    items: list[DealOut]


# ------------------------------------------------------------------------------------ reads


@router.get("/deals", response_model=DealPage, dependencies=[KEPT_AT_CLOCK])
def list_deals(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep, now: ChainNow, state: str | None = None,
               product: str | None = None) -> dict:
    """The deals the caller is party to (borrower, lender, obligor, applicant, presenter)."""
    where = [deal_scope(caller)]
    if state is not None:
        if state not in STATES:
            raise InvalidInput("state", f"one of {', '.join(STATES)}")
        where.append(deals.c.state == state)
    if product is not None:
        where.append(deals.c.product == product)
    rows, total = read_model(ctx).page(deals, where, [deals.c.deal_id], p.limit, p.offset)
    return page_out([deal_out(x, r, now) for x in rows], total, p)


def visible_deal(ctx: NodeContext, caller: Caller, deal_id: int) -> dict[str, Any]:
    return read_model(ctx).visible("deal", deal_id, deals, deals.c.deal_id == deal_id, deal_scope(caller))


@router.get("/deals/{deal_id}", response_model=DealOut, responses=READ_ONE)
def get_deal(deal_id: SmallId, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    return deal_out(visible_deal(ctx, caller, deal_id), r, ctx.chain_time(), read_model(ctx))


def _agreement(ctx: NodeContext, caller: Caller, deal_id: int, pdf: bool) -> Response:
    row = visible_deal(ctx, caller, deal_id)
    data = agreements.fetch(ctx, row["agreement_hash"], caller.address, pdf=pdf)
    if pdf:
        return Response(data, media_type="application/pdf")
    return Response(data, media_type="text/html; charset=utf-8")


AGREEMENT_HTML = {200: {"description": "the agreement the parties signed (its sha-256 is the deal's agreementHash)",
                        "content": {"text/html": {"schema": {"type": "string"}}}}, **problems(404, 409)}
AGREEMENT_PDF = {200: {"description": "the agreement as PDF", "content": {"application/pdf": {
    "schema": {"type": "string", "format": "binary"}}}}, **problems(404, 409)}


@router.get("/deals/{deal_id}/agreement", response_class=Response, responses=AGREEMENT_HTML)
def deal_agreement(deal_id: SmallId, ctx: Ctx, caller: CallerDep) -> Response:
    """The deal's agreement (HTML), decrypted for one of its parties."""
    return _agreement(ctx, caller, deal_id, pdf=False)


@router.get("/deals/{deal_id}/agreement.pdf", response_class=Response, responses=AGREEMENT_PDF)
def deal_agreement_pdf(deal_id: SmallId, ctx: Ctx, caller: CallerDep) -> Response:
    return _agreement(ctx, caller, deal_id, pdf=True)


# ------------------------------------------------------------------------------------ terms


def _terms_party(caller: Caller, t: TermsIn) -> None:
    if caller.address not in (t.borrower, t.lender):
        raise Forbidden("only the borrower or the lender of these terms can do this")


def signed_terms(ctx: NodeContext, t: TermsIn) -> tuple[Prepared, agreements.Rendered, Any]:
    """Checks the terms, renders their agreement and completes them with its hash."""
    prepared = prepare(ctx, t)
    rendered = agreements.render(ctx, prepared)
    return prepared, rendered, prepared.with_agreement(rendered.hash)


@router.post("/deals/terms/preview", response_model=TermsPreviewOut, responses=problems(409))
def preview_terms(body: TermsIn, ctx: Ctx, caller: CallerDep) -> dict:
    """The checked terms as the parties sign them: the EIP-712 message and typed data (for a
    wallet), the digest, the agreement's hash (preview it with POST /agreements/preview)."""
    _terms_party(caller, body)
    _, rendered, terms = signed_terms(ctx, body)
    engine = ctx.clients().deals
    return {"terms": terms_out(terms), "typed_data": _json_typed(engine.terms_typed_data(terms)),
            "terms_digest": "0x" + engine.local_terms_digest(terms).hex(),
            "agreement_hash": "0x" + rendered.hash.hex(), "agreement_title": rendered.agreement.title,
            "milestone_amounts": [ctx.reader().money(a, body.currency) for a in terms.milestone_amounts()]}


def _json_typed(data: dict[str, Any]) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        if isinstance(v, (bytes, bytearray)):
            return "0x" + bytes(v).hex()
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return str(v) if abs(v) >= 2**53 else v
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return conv(data)


@router.post("/deals/terms/signature", response_model=SignatureOut, responses=problems(409))
def sign_terms(body: TermsIn, ctx: Ctx, caller: CallerDep) -> SignatureOut:
    """The caller (borrower or lender of these terms) signs them with its node-held key, once they
    are checked; their agreement is stored encrypted for the parties."""
    _terms_party(caller, body)
    _, rendered, terms = signed_terms(ctx, body)
    engine = ctx.clients().deals
    digest = engine.local_terms_digest(terms)
    agreements.store(ctx, rendered, digest)
    return SignatureOut(signature="0x" + engine.sign_terms(ctx.signer(caller), terms).hex(),
                        terms_digest="0x" + digest.hex(), agreement_hash="0x" + rendered.hash.hex())


@router.post("/deals/terms/revoke", response_model=TxOut, responses=problems(409, 502))
def revoke_terms(body: TermsIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """Either party revokes signed terms not accepted yet (an offer withdrawn)."""
    _terms_party(caller, body)
    _, _, terms = signed_terms(ctx, body)
    return tx_out(ctx.act(caller).deals.revoke_terms(terms))


def approve_collateral(c: Clients, product: Product, module: str, collateral_id: int) -> None:
    """The borrower lets the product module take the collateral (none for a documentary payment)."""
    token = {Product.RECEIVABLE: c.invoices, Product.ORDER: c.orders, Product.RECEIPT_PLEDGE: c.receipts}.get(product)
    if token is not None:
        token.approve(module, collateral_id)


def accept_terms(ctx: NodeContext, caller: Caller, prepared: Prepared, terms: Any, borrower_sig: bytes,
                 lender_sig: bytes) -> tuple[int, dict[str, Any]]:
    """Submits both parties' consent; the borrower's node first approves the collateral."""
    c = ctx.act(caller)
    if caller.address == terms.borrower:
        approve_collateral(c, prepared.product, terms.product, terms.collateral_id)
    deal_id = c.deals.accept(terms, borrower_sig, lender_sig)
    return deal_id, c.deals.last_receipt


@router.post("/deals", response_model=AcceptedOut, status_code=201, responses=problems(409, 502))
def accept_deal(body: AcceptIn, ctx: Ctx, caller: CallerDep, request: Request) -> dict:
    """Submit terms signed by the other party (the submitter's own transaction is its consent).
    The borrower's node also lets the product take the collateral; a lender submitting needs the
    borrower to have approved it already."""
    _terms_party(caller, body.terms)
    in_currency(request, body.terms.currency)
    prepared, rendered, terms = signed_terms(ctx, body.terms)
    agreements.store(ctx, rendered, ctx.clients().deals.local_terms_digest(terms))
    sig = {k: bytes.fromhex(v[2:]) if v else b"" for k, v in (("b", body.borrower_signature),
                                                                ("l", body.lender_signature))}
    deal_id, receipt = accept_terms(ctx, caller, prepared, terms, sig["b"], sig["l"])
    return {"deal_id": deal_id, **tx_out(receipt).model_dump()}


# ------------------------------------------------------------------------------------ deal actions


def party_of(deal_id: int) -> PartyOf:
    def parties(c: Clients) -> list[str | None]:
        _, borrower, lender, obligor = c.deals.parties(deal_id)
        out = [borrower, lender, obligor]
        if c.deals.product_module(Product.DOCUMENTARY) and c.lens.deal(deal_id).product is Product.DOCUMENTARY:
            credit = c.credits.credit(deal_id)
            out += [credit.applicant, credit.presenter]
        return out

    return PartyOf("deal", deal_id, parties, errors.UnknownDeal)


def _deal_currency(ctx: NodeContext, request: Request, deal_id: int) -> Any:
    try:
        d = ctx.clients().lens.deal(deal_id)
    except errors.UnknownDeal:
        raise NotFound("deal", deal_id) from None
    in_currency(request, ctx.deployment.currency_by_token.get(d.token))
    return d


@router.post("/deals/{deal_id}/fund", response_model=TxOut, responses=WRITE)
def fund_deal(deal_id: SmallId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """The lender pays the principal in; advances are released at once."""
    c = ctx.act(caller, Role.LENDER, party=party_of(deal_id))
    d = _deal_currency(ctx, request, deal_id)
    with ctx.spending(caller):
        c.token_at(d.token).approve(ctx.deployment.deal_engine, d.principal)
        return tx_out(c.deals.fund(deal_id))


@router.post("/deals/{deal_id}/funding-approval", response_model=TxOut, responses=WRITE)
def approve_funding(deal_id: SmallId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Four-eyes review: a second key of the lender's organisation approves funding a deal at or
    above the review threshold (the approval and its approver are on chain)."""
    caller.require(Role.LENDER)
    d = _deal_currency(ctx, request, deal_id)
    reg = ctx.clients().registry
    if caller.address == d.lender or reg.member(d.lender).lei != caller.member.lei:
        raise NotFound("deal", deal_id)
    return tx_out(ctx.act(caller).risk.approve_funding(deal_id))


@router.post("/deals/{deal_id}/repay", response_model=TxOut, responses=WRITE)
def repay_deal(deal_id: SmallId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """The payer pays what is due: the obligor (an invoice's buyer) or, without one, the borrower
    (released + fee); at the locked FX rate for a cross-currency deal."""
    c = ctx.act(caller, party=party_of(deal_id))
    d = _deal_currency(ctx, request, deal_id)
    with ctx.spending(caller):
        due = c.deals.amount_due(deal_id)
        c.token_at(d.token).approve(ctx.deployment.deal_engine, due)
        return tx_out(c.deals.repay(deal_id))


@router.post("/deals/{deal_id}/withdraw", response_model=WithdrawnOut, responses=WRITE)
def withdraw(deal_id: SmallId, ctx: Ctx, caller: CallerDep, request: Request) -> dict:
    """Pays the caller everything the deal credited to it (releases, the waterfall, a recovery)."""
    c = ctx.act(caller, party=party_of(deal_id))
    d = _deal_currency(ctx, request, deal_id)
    amount = c.deals.withdraw(deal_id)
    return {"withdrawn": ctx.reader().money(amount, ctx.deployment.currency_by_token.get(d.token)),
            **tx_out(c.deals.last_receipt).model_dump()}


@router.post("/deals/{deal_id}/default", response_model=TxOut, responses=WRITE)
def declare_default(deal_id: SmallId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """After maturity + grace the lender declares the deal in default (a documentary credit: its
    expiry); confirmed milestones are released first."""
    c = ctx.act(caller, Role.LENDER, party=party_of(deal_id))
    _deal_currency(ctx, request, deal_id)
    return tx_out(c.deals.declare_default(deal_id))


def _party_action(name: str):
    def action(deal_id: SmallId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
        c = ctx.act(caller, party=party_of(deal_id))
        _deal_currency(ctx, request, deal_id)
        out = getattr(c.deals, name)(deal_id)
        return tx_out(out if isinstance(out, dict) else c.deals.last_receipt)

    return action


router.post("/deals/{deal_id}/cancel", response_model=TxOut, responses=WRITE,
            summary="Cancel a deal before funding (borrower or lender); the collateral goes back",
            name="cancel_deal")(_party_action("cancel"))
router.post("/deals/{deal_id}/poke", response_model=TxOut, responses=WRITE,
            summary="Bring the deal in line with the oracle: release met milestones, apply retractions",
            name="poke_deal")(_party_action("poke"))
router.post("/deals/{deal_id}/settle", response_model=TxOut, responses=WRITE,
            summary="Settle a fully released documentary payment",
            name="settle_deal")(_party_action("settle"))
router.post("/deals/{deal_id}/flag-overdue", response_model=TxOut, responses=WRITE,
            summary="Flag a funded deal past maturity (the early warning; past grace it counts as overdue)",
            name="flag_overdue")(_party_action("flag_overdue"))


@router.post("/deals/{deal_id}/rollover", response_model=TxOut, responses=WRITE)
def roll_over(deal_id: SmallId, body: RolloverIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Order financing: roll the deal into the confirmed invoice issued against its order; the
    invoice's buyer then repays at maturity (the supplier's node moves the invoice in)."""
    c = ctx.act(caller, party=party_of(deal_id))
    _deal_currency(ctx, request, deal_id)
    if c.invoices.invoice(body.invoice_id).holder == caller.address:
        c.invoices.approve(ctx.deployment.order_financing, body.invoice_id)
    return tx_out(c.order_financing.roll_to_invoice(deal_id, body.invoice_id))


@router.post("/deals/{deal_id}/documents", response_model=TxOut, responses=WRITE)
def present_document(deal_id: SmallId, body: PresentIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """Documentary payment: the presenter presents (or re-presents) a required document by its
    hash (upload it with POST /documents first)."""
    c = ctx.act(caller, party=party_of(deal_id))
    return tx_out(c.credits.present(deal_id, body.doc_type, bytes.fromhex(body.document_hash[2:]), body.document_date))


@router.post("/deals/{deal_id}/waive", response_model=TxOut, responses=WRITE)
def waive(deal_id: SmallId, ctx: Ctx, caller: CallerDep) -> TxOut:
    """Documentary payment: the applicant accepts the presentation with its discrepancies."""
    c = ctx.act(caller, Role.BUYER, party=party_of(deal_id))
    return tx_out(c.credits.waive(deal_id))
