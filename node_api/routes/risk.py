"""Risk: lenders set and read their policy and limits (RiskRules), see their book against them;
risk officers (ADMIN, AUDITOR) read the network's warnings feed and heat map; credit profiles
from on-chain history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from chain.vocabulary import Role

from .. import risk
from ..deps import CallerDep, Ctx
from ..errors import InvalidInput, NotFound
from ..models import Address, JsonObject, MinorUnits, Money, RequestModel, TxOut, tx_out
from ..openapi import READ_ONE, problems
from .common import ReaderDep, in_currency

router = APIRouter(tags=["risk"])


class PolicyIn(RequestModel):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="the book's currency (only while the book is empty)")
    cap_bps: int = Field(ge=0, le=10_000, description="concentration cap: one obligor's share of the book (0: none)")
    review_threshold: int = Field(default=0, ge=0, lt=2**96,
                                  description="four-eyes threshold in the book currency, minor units (0: none)")


class CapitalBaseIn(RequestModel):
    capital_base: MinorUnits = Field(description="the lender's capital base in its book currency, minor units "
                                     "(e.g. its Tier 1 capital; 0: none): the concentration cap is measured "
                                     "against the larger of the book and this base")


class LimitIn(RequestModel):
    limit: MinorUnits | None = Field(description="minor units of the book currency; null lifts the limit")


class PolicyOut(BaseModel):
    lender: str
    lender_name: str | None
    entity: JsonObject
    currency: str | None
    policy_set: bool
    cap_bps: int
    cap: str | None
    capital_base: Money | None
    review_threshold: Money | None
    book_exposure: Money
    limits: list[JsonObject]
    network_currency: str
    network_review_threshold: Money


class PortfolioOut(BaseModel):
    lender: str
    lender_name: str | None
    deals: int
    deals_by_state: dict[str, int]
    by_obligor: list[JsonObject] = Field(description="outstanding principal per obligor, its share of the book vs cap")
    fees_due: list[Money]
    overdue_deals: list[JsonObject]
    policy: JsonObject
    limits: list[JsonObject] = Field(description="the lender's limit per obligor against exposure and headroom")
    warnings: list[JsonObject]
    clock: str
    as_of: int
    as_of_iso: str | None


class WarningsOut(BaseModel):
    scope: str = Field(description="`network` (admins, auditors) or `own` (a lender)")
    items: list[JsonObject]
    clock: str
    as_of: int
    as_of_iso: str | None


class HeatmapOut(BaseModel):
    lenders: list[JsonObject]
    obligors: list[JsonObject]
    cells: list[JsonObject] = Field(description="obligor x lender: exposure, limit, utilisation")
    parties: list[JsonObject] = Field(description="network limits, overdue runs and freezes per party")
    network_currency: str
    clock: str
    as_of: int
    as_of_iso: str | None


class CreditProfileOut(BaseModel):
    account: str
    name: str | None
    lei: str | None
    entity: JsonObject
    accounts: list[str]
    as_borrower: JsonObject
    as_obligor: JsonObject
    overdue_run: int
    frozen: bool
    source: str
    clock: str
    as_of: int
    as_of_iso: str | None


@router.get("/risk/policy", response_model=PolicyOut)
def get_policy(ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """The caller's (a lender organisation's) policy and its limits per obligor with exposure."""
    caller.require(Role.LENDER)
    return risk.policy(ctx, caller.address, r)


@router.put("/risk/policy", response_model=TxOut, responses=problems(409, 502))
def set_policy(body: PolicyIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Sets the lender's book currency, concentration cap and four-eyes threshold (on chain)."""
    c = ctx.act(caller, Role.LENDER)
    if body.currency not in ctx.deployment.settlement_tokens:
        raise InvalidInput("currency", f"the network has no settlement token for {body.currency}")
    in_currency(request, body.currency)
    return tx_out(c.risk.set_lender_policy(body.currency, body.cap_bps, body.review_threshold))


@router.put("/risk/capital-base", response_model=TxOut, responses=problems(409, 502))
def set_capital_base(body: CapitalBaseIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Sets the lender's capital base (on chain; a book currency must be set first): the
    concentration cap is then measured against the larger of the book and the base."""
    c = ctx.act(caller, Role.LENDER)
    in_currency(request, c.risk.lender_book(caller.address).currency or None)
    return tx_out(c.risk.set_capital_base(body.capital_base))


@router.put("/risk/limits/{obligor}", response_model=TxOut, responses=problems(409, 502))
def set_limit(obligor: Address, body: LimitIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Sets (or lifts, with null) the lender's exposure limit for an obligor, in its book currency."""
    c = ctx.act(caller, Role.LENDER)
    in_currency(request, c.risk.lender_book(caller.address).currency or None)
    return tx_out(c.risk.set_limit(obligor, body.limit))


@router.get("/portfolio", response_model=PortfolioOut)
def portfolio(ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """A lender's book: outstanding by obligor and currency, fees due, overdue deals, limits vs
    exposure, concentration vs cap, and the warnings that concern it."""
    caller.require(Role.LENDER)
    return risk.portfolio(ctx, caller.address, r, ctx.chain_time())


@router.get("/risk/warnings", response_model=WarningsOut)
def warnings(ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """The early-warning feed: the whole network's for ADMIN and AUDITOR, a lender's own."""
    caller.require(Role.ADMIN, Role.AUDITOR, Role.LENDER)
    now = ctx.chain_time()
    everything = caller.has(Role.ADMIN, Role.AUDITOR)
    key = None if everything else risk.entity_of(ctx, caller.address)
    return {"scope": "network" if everything else "own", "items": risk.warnings(ctx, r, now, lender_key=key),
            "clock": "chain", "as_of": now, "as_of_iso": r.row({"t": now}, times=("t",))["t_iso"]}


@router.get("/risk/heatmap", response_model=HeatmapOut)
def heatmap(ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """Obligor x lender exposure and utilisation of each lender's limit (risk officers)."""
    caller.require(Role.ADMIN, Role.AUDITOR)
    return risk.heatmap(ctx, r, ctx.chain_time())


@router.get("/participants/{address}/credit-profile", response_model=CreditProfileOut, responses=READ_ONE)
def credit_profile(address: Address, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """A participant's credit record from on-chain history only (for lenders making offers, risk
    officers, and the participant itself)."""
    if address != caller.address and not caller.has(Role.LENDER, Role.ADMIN, Role.AUDITOR):
        raise NotFound("credit profile", address)
    if r.name(address) is None:
        raise NotFound("participant", address)
    return risk.credit_profile(ctx, address, r, ctx.chain_time())
