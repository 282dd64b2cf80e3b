"""Treasury (TREASURY role): tokenised deposits minted against fiat deposit references,
redemption requests completed (fiat paid out, tokens burned) or rejected; any member requests a
redemption and reads the currencies the network settles in. A new currency comes through
governance (``POST /governance/proposals`` with an ``add_currency`` action)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from chain.clients import SettlementToken
from chain.indexer.projections import currency_tokens, fiat_movements, redemptions
from chain.vocabulary import RedemptionState, Role

from ..deps import CallerDep, Ctx
from ..errors import NotFound
from ..models import Address, MinorUnits, Money, Page, RequestModel, Text, TxOut, readable_model, tx_out
from ..openapi import WRITE
from ..readable import Reader, reference_bytes, reference_text
from .common import PagingDep, ReaderDep, in_currency, page_out, read_model

router = APIRouter(tags=["treasury"])

CurrencyPath = Annotated[str, Path(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]


class DepositIn(RequestModel):
    to: Address
    amount: MinorUnits
    deposit_reference: Text = Field(min_length=1, max_length=64, description="the fiat deposit's bank reference")


class RedemptionIn(RequestModel):
    amount: MinorUnits
    payout_reference: Text = Field(min_length=1, max_length=64, description="where the fiat goes (an instruction "
                                                                            "id; account numbers are masked in answers)")


class CompleteIn(RequestModel):
    bank_reference: Text = Field(min_length=1, max_length=64, description="the fiat payment's bank reference")


class RejectIn(RequestModel):
    reason: Text = Field(min_length=1, max_length=500)


class RequestedOut(TxOut):
    redemption_id: int


class CurrencyOut(BaseModel):
    currency: str
    token: str
    name: str | None
    decimals: int
    total_supply: Money
    created_by_factory: bool


class CurrenciesOut(BaseModel):
    items: list[CurrencyOut]
    network_currency: str | None = Field(description="the currency of network-wide risk limits")


RedemptionOut = readable_model("RedemptionOut", "A request to redeem tokens for fiat.", {
    "currency": str, "token": str, "id": int, "holder": str, "amount": Money, "payout_ref": str,
    "payout_reference": (str | None, None), "state": str, "treasury": (str | None, None),
    "bank_ref": (str | None, None), "bank_reference": (str | None, None), "reject_reason": (str | None, None),
    "requested_block": int, "closed_block": (int | None, None)}, parties=("holder", "treasury"))


class RedemptionPage(Page):
    items: list[RedemptionOut]  # type: ignore[valid-type]


MovementOut = readable_model("MovementOut", "A fiat deposit (mint) or redemption (burn) by the treasury.", {
    "block_number": int, "log_index": int, "currency": str, "kind": str, "treasury": str,
    "account": (str | None, None), "amount": Money, "reference": str, "reference_text": (str | None, None),
    "tx_hash": str, "timestamp": int}, parties=("treasury", "account"), times=("timestamp",))


class MovementPage(Page):
    items: list[MovementOut]  # type: ignore[valid-type]


def _token(ctx: Ctx, request: Request, currency: str) -> str:
    token = ctx.deployment.settlement_tokens.get(currency) or ctx.clients().registry.settlement_token(currency)
    if token is None:
        raise NotFound("currency", currency)
    in_currency(request, currency)
    return token


@router.get("/currencies", response_model=CurrenciesOut)
def currencies(ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """The currencies the network settles in, with each token's supply (chain)."""
    c = ctx.clients()
    created = {x["currency"]: x for x in read_model(ctx).all(currency_tokens)}
    items = []
    tokens = dict(ctx.deployment.settlement_tokens)
    for cur, x in created.items():
        if c.registry.settlement_token(cur) == x["token"]:
            tokens[cur] = x["token"]
    for cur, token in sorted(tokens.items()):
        t = SettlementToken(ctx.chain, token)
        items.append({"currency": cur, "token": token, "name": created.get(cur, {}).get("name"),
                      "decimals": t.decimals(), "total_supply": r.money(t.total_supply(), cur),
                      "created_by_factory": cur in created})
    network = c.risk.network_currency() if ctx.deployment.risk_rules else None
    return {"items": items, "network_currency": network}


@router.post("/treasury/{currency}/deposits", response_model=TxOut, status_code=201, responses=WRITE)
def mint(currency: CurrencyPath, body: DepositIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """TREASURY mints tokenised deposits to a member against a fiat deposit reference."""
    token = _token(ctx, request, currency)
    c = ctx.act(caller, Role.TREASURY)
    return tx_out(_at(ctx, c, token).mint(body.to, body.amount, reference_bytes(body.deposit_reference)))


def _at(ctx: Ctx, c: Any, token: str) -> SettlementToken:
    """The settlement token at `token` (also one a governance proposal added), as `c`'s signer."""
    return SettlementToken(ctx.chain, token, c.account)


@router.post("/currencies/{currency}/redemptions", response_model=RequestedOut, status_code=201, responses=WRITE)
def request_redemption(currency: CurrencyPath, body: RedemptionIn, ctx: Ctx, caller: CallerDep,
                       request: Request) -> dict:
    """Any member asks TREASURY to redeem tokens for fiat (they move into the token's custody)."""
    token = _token(ctx, request, currency)
    c = ctx.act(caller)
    t = _at(ctx, c, token)
    rid = t.request_redemption(body.amount, reference_bytes(body.payout_reference))
    return {"redemption_id": rid, **tx_out(t.last_receipt).model_dump()}


@router.post("/treasury/{currency}/redemptions/{redemption_id}/complete", response_model=TxOut, responses=WRITE)
def complete(currency: CurrencyPath, redemption_id: Annotated[int, Path(ge=1, lt=2**63)], body: CompleteIn, ctx: Ctx,
             caller: CallerDep, request: Request) -> TxOut:
    """TREASURY paid the fiat out: the requested tokens are burned."""
    token = _token(ctx, request, currency)
    c = ctx.act(caller, Role.TREASURY)
    return tx_out(_at(ctx, c, token).complete_redemption(redemption_id, reference_bytes(body.bank_reference)))


@router.post("/treasury/{currency}/redemptions/{redemption_id}/reject", response_model=TxOut, responses=WRITE)
def reject(currency: CurrencyPath, redemption_id: Annotated[int, Path(ge=1, lt=2**63)], body: RejectIn, ctx: Ctx,
           caller: CallerDep, request: Request) -> TxOut:
    """TREASURY refuses the request: the tokens return to the holder."""
    token = _token(ctx, request, currency)
    c = ctx.act(caller, Role.TREASURY)
    return tx_out(_at(ctx, c, token).reject_redemption(redemption_id, body.reason))


def _currency_of(ctx: Ctx) -> dict[str, str]:
    out = dict(ctx.deployment.currency_by_token)
    out.update({x["token"]: x["currency"] for x in read_model(ctx).all(currency_tokens)})
    return out


def redemption_out(row: dict[str, Any], r: Reader, currency: str) -> dict[str, Any]:
    out = r.row(row, parties=("holder", "treasury"), amounts={"amount": currency})
    out.update(currency=currency, payout_reference=reference_text(row["payout_ref"]),
               bank_reference=reference_text(row["bank_ref"]))
    return out


@router.get("/treasury/redemptions", response_model=RedemptionPage)
def list_redemptions(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep,
                     state: Annotated[str | None, Query(pattern="^(" + "|".join(RedemptionState.labels()) + ")$")]
                     = None) -> dict:
    """Redemption requests: all of them for TREASURY and AUDITOR, the caller's own otherwise."""
    where = []
    if not caller.has(Role.TREASURY, Role.AUDITOR):
        where.append(redemptions.c.holder == caller.address)
    if state:
        where.append(redemptions.c.state == state)
    rows, total = read_model(ctx).page(redemptions, where, [redemptions.c.requested_block, redemptions.c.id],
                                       p.limit, p.offset)
    cur = _currency_of(ctx)
    return page_out([redemption_out(x, r, cur.get(x["token"], "???")) for x in rows], total, p)


@router.get("/treasury/movements", response_model=MovementPage)
def movements(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep) -> dict:
    """Fiat deposits (mints) and redemptions (burns) of every currency (TREASURY, AUDITOR)."""
    caller.require(Role.TREASURY, Role.AUDITOR)
    t = fiat_movements
    rows, total = read_model(ctx).page(t, [], [t.c.block_number.desc(), t.c.log_index.desc()], p.limit, p.offset)
    cur = _currency_of(ctx)
    items = []
    for x in rows:
        c = cur.get(x["token"], "???")
        out = r.row(x, parties=("treasury", "account"), times=("timestamp",), amounts={"amount": c})
        out.update(currency=c, reference_text=reference_text(x["reference"]))
        items.append(out)
    return page_out(items, total, p)

