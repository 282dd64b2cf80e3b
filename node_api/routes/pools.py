"""ABS pools: a pool manager (a LENDER) creates a pool, bids for funded receivables, publishes the
tape's root (computed by the node from chain state) and issues notes; lenders sell their deals'
lender side to a pool; investors buy notes, claim distributions and verify the pool trusting
nobody; everyone reads the pool's report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from chain.clients import PoolParams
from chain.indexer.projections import abs_pools, pool_assets
from chain.vocabulary import Role

from .. import pools
from ..deps import CallerDep, Ctx
from ..errors import InvalidInput, NotFound
from ..models import JsonObject, MinorUnits, Money, Page, RequestModel, Text, TxOut, readable_model, tx_out
from ..openapi import READ_ONE, WRITE, problems
from .common import PagingDep, ReaderDep, in_currency, page_out, read_model

router = APIRouter(prefix="/pools", tags=["ABS pools"])

PoolId = Annotated[int, Path(ge=1, lt=2**63)]
Tranche = Literal["senior", "junior"]


class PoolIn(RequestModel):
    name: Text = Field(min_length=1, max_length=64)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    max_tenor_days: int = Field(ge=1, le=3650, description="most remaining tenor of an asset when bought")
    obligor_cap_bps: int = Field(ge=1, le=10_000, description="most one obligor may be of the pool's size")
    senior_coupon_bps: int = Field(ge=0, le=10_000, description="senior interest, paid once, of the senior size")
    senior_size: MinorUnits
    junior_size: MinorUnits


class BidIn(RequestModel):
    deal_id: int = Field(ge=1, lt=2**63)
    price: int = Field(ge=0, lt=2**96, description="what the pool pays the deal's lender, minor units")


class DealIn(RequestModel):
    deal_id: int = Field(ge=1, lt=2**63)


class NotesIn(RequestModel):
    tranche: Tranche
    amount: MinorUnits = Field(description="notes (one note = one minor unit of the pool currency) bought at par")


class CollectIn(RequestModel):
    # each id as the path's deal ids are (the fuzzer's negative ids reached web3's ABI encoder: a 500)
    deal_ids: list[Annotated[int, Field(ge=1, lt=2**63)]] | None = Field(default=None, max_length=200,
                                       description="the pooled deals to collect (default: every active asset)")


class ClaimIn(RequestModel):
    tranche: Tranche


class CreatedOut(TxOut):
    pool_id: int


class ClaimedOut(TxOut):
    claimed: Money


class IssuedOut(TxOut):
    tape_root: str


PoolOut = readable_model("PoolOut", "An ABS pool with its running figures (pool currency).", {
    "pool_id": int, "manager": str, "name": str, "state": str, "token": str, "currency": (str | None, None),
    "senior_tranche": str, "junior_tranche": str, "senior_size": Money, "junior_size": Money,
    "senior_coupon_bps": int, "senior_coupon": str, "obligor_cap_bps": int, "obligor_cap": str, "max_tenor": int,
    "max_tenor_days": int, "asset_count": int, "open_assets": int, "expected": Money, "purchase_price": Money,
    "collected": Money, "losses": Money, "undistributed": Money, "senior_interest_paid": Money,
    "senior_principal_paid": Money, "junior_paid": Money, "paid_out": Money, "senior_sold": Money,
    "junior_sold": Money, "tape_hash": str, "tape_root": (str | None, None), "swept": bool, "created_block": int,
    "created_at": int, "issued_block": (int | None, None), "issued_at": (int | None, None),
    "amortising_block": (int | None, None), "closed_block": (int | None, None), "closed_at": (int | None, None),
    "updated_block": int, "my_notes": (list[JsonObject] | None, None)},
    parties=("manager",), times=("created_at", "issued_at", "closed_at"))


class PoolPage(Page):
    items: list[PoolOut]  # type: ignore[valid-type]


AssetOut = readable_model("AssetOut", "A pooled asset: one leaf of the tape.", {
    "pool_id": int, "idx": int, "deal_id": int, "invoice_id": str, "seller": str, "price": Money, "leaf": str,
    "face_value": Money, "expected": Money, "due_date": int, "currency": str, "obligor": (str | None, None),
    "obligor_lei": (str | None, None), "document_hash": str, "status": str, "recovered": Money, "loss": Money,
    "pooled_block": int, "pooled_at": int, "closed_block": (int | None, None), "closed_at": (int | None, None),
    "updated_block": int}, parties=("seller", "obligor"), times=("due_date", "pooled_at", "closed_at"))


class AssetPage(Page):
    items: list[AssetOut]  # type: ignore[valid-type]


class ReportOut(BaseModel):
    pool_id: int
    name: str
    state: str
    currency: str
    assets: int
    assets_by_status: dict[str, int]
    outstanding_balance: Money
    expected_total: Money
    purchase_price: Money
    collections: Money
    collections_count: int
    undistributed: Money
    distributions: int
    defaults: JsonObject
    tranches: JsonObject = Field(description="senior and junior: sizes, paid, outstanding, losses (junior first)")
    coverage: JsonObject = Field(description="outstanding collateral + cash over notes outstanding")
    concentration: list[JsonObject]
    collections_by_month: list[JsonObject] = Field(description="expected (due dates) vs actual collections")
    clock: str
    as_of: int
    as_of_iso: str | None


class VerificationOut(BaseModel):
    pool_id: int
    ok: bool
    assets_checked: int
    assets_failed: int
    published_root: str
    recomputed_root: str
    root_ok: bool
    tape_hash_ok: bool
    problems: list[str]
    assets: list[JsonObject]
    chain_read_ms: int
    compute_ms: int
    document_ms: int
    table: str = Field(description="the same as a readable table")
    source: str


def _pool(ctx: Ctx, request: Request, pool_id: int) -> dict:
    row = pools.pool_row(ctx, pool_id)
    in_currency(request, row["currency"])
    return row


def _manager(ctx: Ctx, caller: CallerDep, request: Request, pool_id: int):
    row = _pool(ctx, request, pool_id)
    c = ctx.act(caller, Role.LENDER)
    if row["manager"] != caller.address:
        raise NotFound("pool managed by you", pool_id)
    return c, row


@router.get("", response_model=PoolPage)
def list_pools(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep) -> dict:
    """Every pool (an offering to the network's investors: its figures are public to members)."""
    rows, total = read_model(ctx).page(abs_pools, [], [abs_pools.c.pool_id], p.limit, p.offset)
    return page_out([pools.pool_out(x, r) for x in rows], total, p)


@router.get("/{pool_id}", response_model=PoolOut, responses=READ_ONE)
def get_pool(pool_id: PoolId, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    out = pools.pool_out(pools.pool_row(ctx, pool_id), r)
    out["my_notes"] = pools.holdings(ctx, pool_id, caller.address, r)
    return out


@router.get("/{pool_id}/assets", response_model=AssetPage, responses=READ_ONE)
def list_assets(pool_id: PoolId, ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep) -> dict:
    """The pool's asset tape as the read model holds it (verify it with /verification)."""
    pools.pool_row(ctx, pool_id)
    rows, total = read_model(ctx).page(pool_assets, [pool_assets.c.pool_id == pool_id], [pool_assets.c.idx],
                                       p.limit, p.offset)
    return page_out([pools.asset_out(x, r) for x in rows], total, p)


@router.get("/{pool_id}/report", response_model=ReportOut, responses=READ_ONE)
def pool_report(pool_id: PoolId, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    return pools.report(ctx, pool_id, r, ctx.chain_time())


@router.get("/{pool_id}/verification", response_model=VerificationOut, responses=READ_ONE)
def verify(pool_id: PoolId, ctx: Ctx, caller: CallerDep) -> dict:
    """The investor's check that trusts nobody: the tape recomputed from chain state over RPC,
    the published root, every asset's proof, deal and invoice state, documents by CID."""
    caller.require(Role.INVESTOR, Role.AUDITOR, Role.LENDER)
    return pools.verification(ctx, pool_id)


@router.post("", response_model=CreatedOut, status_code=201, responses=problems(409, 502))
def create_pool(body: PoolIn, ctx: Ctx, caller: CallerDep, request: Request) -> dict:
    """A LENDER opens a pool it manages."""
    c = ctx.act(caller, Role.LENDER)
    token = ctx.deployment.settlement_tokens.get(body.currency)
    if token is None:
        raise InvalidInput("currency", f"the network has no settlement token for {body.currency}")
    in_currency(request, body.currency)
    pid = c.pools.create_pool(PoolParams(token, body.max_tenor_days * 86_400, body.obligor_cap_bps,
                                         body.senior_coupon_bps, body.senior_size, body.junior_size, body.name))
    return {"pool_id": pid, **tx_out(c.pools.last_receipt).model_dump()}


@router.post("/{pool_id}/bids", response_model=TxOut, responses=WRITE)
def bid(pool_id: PoolId, body: BidIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """The manager bids a price for a funded receivable deal (its invoice's document hash is named
    by the node from the chain's anchor); the manager's node approves the price for payment."""
    c, row = _manager(ctx, caller, request, pool_id)
    c.token_at(row["token"]).approve(ctx.deployment.abs_pools, 2**255)
    return tx_out(c.pools.bid(pool_id, body.deal_id, body.price, pools.bid_document_hash(ctx, body.deal_id)))


@router.post("/{pool_id}/sales", response_model=TxOut, responses=WRITE)
def sell(pool_id: PoolId, body: DealIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """The deal's lender sells its side to the pool at the manager's bid (its node approves the
    assignment first)."""
    _pool(ctx, request, pool_id)
    c = ctx.act(caller, Role.LENDER)
    c.deals.approve_assignment(body.deal_id, ctx.deployment.abs_pools)
    return tx_out(c.pools.sell(pool_id, body.deal_id))


@router.post("/{pool_id}/issue", response_model=IssuedOut, responses=WRITE)
def issue(pool_id: PoolId, ctx: Ctx, caller: CallerDep, request: Request) -> dict:
    """The manager freezes the tape and issues the notes; the root is computed by the node from
    the pool's records on chain."""
    c, _ = _manager(ctx, caller, request, pool_id)
    root = pools.tape_root(ctx, pool_id)
    return {"tape_root": "0x" + root.hex(), **tx_out(c.pools.issue(pool_id, root)).model_dump()}


@router.post("/{pool_id}/notes", response_model=TxOut, responses=WRITE)
def buy_notes(pool_id: PoolId, body: NotesIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """An INVESTOR buys notes of a tranche at par (paid to the manager)."""
    row = _pool(ctx, request, pool_id)
    c = ctx.act(caller, Role.INVESTOR)
    with ctx.spending(caller):
        c.token_at(row["token"]).approve(ctx.deployment.abs_pools, body.amount)
        return tx_out(c.pools.buy_notes(pool_id, body.tranche == "senior", body.amount))


@router.post("/{pool_id}/amortisation", response_model=TxOut, responses=WRITE)
def start_amortisation(pool_id: PoolId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """The manager starts amortisation before the notes are sold out."""
    c, _ = _manager(ctx, caller, request, pool_id)
    return tx_out(c.pools.start_amortisation(pool_id))


@router.post("/{pool_id}/collections", response_model=TxOut, responses=WRITE)
def collect(pool_id: PoolId, body: CollectIn, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Collects what the engine credited the pool for its deals (repayments, recoveries)."""
    _pool(ctx, request, pool_id)
    c = ctx.act(caller, Role.LENDER, Role.INVESTOR)
    ids = body.deal_ids
    if ids is None:
        ids = [a["deal_id"] for a in read_model(ctx).all(pool_assets, pool_assets.c.pool_id == pool_id,
                                                          pool_assets.c.status == "Active")]
    if not ids:
        raise InvalidInput("deal_ids", "no active asset to collect")
    return tx_out(c.pools.collect(pool_id, ids))


@router.post("/{pool_id}/distributions", response_model=TxOut, responses=WRITE)
def distribute(pool_id: PoolId, ctx: Ctx, caller: CallerDep, request: Request) -> TxOut:
    """Runs the waterfall: senior interest, senior principal, then the junior tranche."""
    _pool(ctx, request, pool_id)
    return tx_out(ctx.act(caller, Role.LENDER, Role.INVESTOR).pools.distribute(pool_id))


@router.post("/{pool_id}/claims", response_model=ClaimedOut, responses=WRITE)
def claim(pool_id: PoolId, body: ClaimIn, ctx: Ctx, caller: CallerDep, request: Request, r: ReaderDep) -> dict:
    """A note holder takes its distributions of one tranche."""
    row = _pool(ctx, request, pool_id)
    c = ctx.act(caller, Role.INVESTOR)
    amount = c.pools.claim(row[f"{body.tranche}_tranche"])
    return {"claimed": r.money(amount, row["currency"]), **tx_out(c.pools.last_receipt).model_dump()}
