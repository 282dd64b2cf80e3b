"""Read model of the ABS pools (``AbsPools``) and their tranche notes (``TrancheToken``).

Tables (migration ``0004_pools``):

* ``abs_pools``: one row per pool: manager, name, currency and token, the tranche tokens, the
  parameters (sizes, senior coupon, obligor cap, most remaining tenor), the state (Building,
  Issued, Amortising, Closed) and the running figures the contract keeps (assets, open assets,
  expected collections = principal + fee of the pooled deals, purchase price paid, collected,
  losses, undistributed cash, what each waterfall step paid, paid out), the notes sold per
  tranche, the running tape hash (keccak256(abi.encode(previous, leaf)) per pooled asset, as
  the contract computes it) and the published root;
* ``pool_bids``: the manager's bids (price, the invoice's document hash) per (pool, deal);
  ``status`` Open until the lender sells (Pooled);
* ``pool_assets``: one row per pooled asset, by its index in the pool: the deal, the invoice it
  finances, the seller (the deal's lender that sold it) and the price, the leaf, and the tape
  fields (face value, due date, currency, obligor and its LEI, document hash) and what the
  lender side expects (principal + fee), taken from the deal and invoice tables at pooling (the
  contract reads the same chain state); status (Active, Repaid, Defaulted), recovered, loss;
* ``pool_collections``: every collection (amount credited by the engine, asset status after);
* ``pool_distributions``: every waterfall run (senior interest, senior principal, junior);
* ``pool_note_sales``: notes sold to investors at par;
* ``pool_claims``: distributions claimed by note holders (and the manager's unsold notes);
* ``tranche_holdings``: note balances per (tranche, holder), from the tranche tokens' transfers
  (the pool contract itself holds the unsold notes).
"""
from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak
from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, or_, select

from ..projection import IndexedEvent, ProjectionContext
from ..types import Uint256
from .assets import invoices
from .deal_engine import currency_of_token, deals
from .handlers import Handlers, log_columns, log_key
from .registry import participants
from .values import ZERO_ADDRESS, hex_bytes

metadata = MetaData()

abs_pools = Table(
    "abs_pools", metadata,
    Column("pool_id", BigInteger, primary_key=True, autoincrement=False),
    Column("manager", String(42), nullable=False),
    Column("name", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("token", String(42), nullable=False),
    Column("currency", String(3)),
    Column("senior_tranche", String(42), nullable=False),
    Column("junior_tranche", String(42), nullable=False),
    Column("senior_size", Uint256(), nullable=False),
    Column("junior_size", Uint256(), nullable=False),
    Column("senior_coupon_bps", Integer, nullable=False),
    Column("obligor_cap_bps", Integer, nullable=False),
    Column("max_tenor", BigInteger, nullable=False),
    Column("asset_count", Integer, nullable=False),
    Column("open_assets", Integer, nullable=False),
    Column("expected", Uint256(), nullable=False),
    Column("purchase_price", Uint256(), nullable=False),
    Column("collected", Uint256(), nullable=False),
    Column("losses", Uint256(), nullable=False),
    Column("undistributed", Uint256(), nullable=False),
    Column("senior_interest_paid", Uint256(), nullable=False),
    Column("senior_principal_paid", Uint256(), nullable=False),
    Column("junior_paid", Uint256(), nullable=False),
    Column("paid_out", Uint256(), nullable=False),
    Column("senior_sold", Uint256(), nullable=False),
    Column("junior_sold", Uint256(), nullable=False),
    Column("tape_hash", String(66), nullable=False),
    Column("tape_root", String(66)),
    Column("swept", Boolean, nullable=False),
    Column("created_block", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("issued_block", BigInteger),
    Column("issued_at", BigInteger),
    Column("amortising_block", BigInteger),
    Column("closed_block", BigInteger),
    Column("closed_at", BigInteger),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_abs_pools_manager", "manager"),
    Index("ix_abs_pools_state", "state"),
)

pool_bids = Table(
    "pool_bids", metadata,
    Column("pool_id", BigInteger, primary_key=True, autoincrement=False),
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("price", Uint256(), nullable=False),
    Column("document_hash", String(66), nullable=False),
    Column("status", String(8), nullable=False),
    Column("bid_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

pool_assets = Table(
    "pool_assets", metadata,
    Column("pool_id", BigInteger, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("deal_id", BigInteger, nullable=False),
    Column("invoice_id", Uint256(), nullable=False),
    Column("seller", String(42), nullable=False),
    Column("price", Uint256(), nullable=False),
    Column("leaf", String(66), nullable=False),
    Column("face_value", Uint256(), nullable=False),
    Column("expected", Uint256(), nullable=False),
    Column("due_date", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("obligor", String(42)),
    Column("obligor_lei", String(20)),
    Column("document_hash", String(66), nullable=False),
    Column("status", String(10), nullable=False),
    Column("recovered", Uint256(), nullable=False),
    Column("loss", Uint256(), nullable=False),
    Column("pooled_block", BigInteger, nullable=False),
    Column("pooled_at", BigInteger, nullable=False),
    Column("closed_block", BigInteger),
    Column("closed_at", BigInteger),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_pool_assets_deal_id", "deal_id"),
    Index("ix_pool_assets_obligor", "obligor"),
)

pool_collections = Table(
    "pool_collections", metadata,
    *log_columns(),
    Column("pool_id", BigInteger, nullable=False),
    Column("deal_id", BigInteger, nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("status", String(10), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_pool_collections_pool_id", "pool_id"),
)

pool_distributions = Table(
    "pool_distributions", metadata,
    *log_columns(),
    Column("pool_id", BigInteger, nullable=False),
    Column("senior_interest", Uint256(), nullable=False),
    Column("senior_principal", Uint256(), nullable=False),
    Column("junior", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_pool_distributions_pool_id", "pool_id"),
)

pool_note_sales = Table(
    "pool_note_sales", metadata,
    *log_columns(),
    Column("pool_id", BigInteger, nullable=False),
    Column("investor", String(42), nullable=False),
    Column("tranche", String(6), nullable=False),  # Senior / Junior
    Column("amount", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_pool_note_sales_pool_id", "pool_id"),
    Index("ix_pool_note_sales_investor", "investor"),
)

pool_claims = Table(
    "pool_claims", metadata,
    *log_columns(),
    Column("pool_id", BigInteger, nullable=False),
    Column("tranche", String(42), nullable=False),
    Column("holder", String(42), nullable=False),
    Column("payee", String(42), nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_pool_claims_pool_id", "pool_id"),
    Index("ix_pool_claims_holder", "holder"),
)

tranche_holdings = Table(
    "tranche_holdings", metadata,
    Column("tranche", String(42), primary_key=True),
    Column("holder", String(42), primary_key=True),
    Column("pool_id", BigInteger, nullable=False),
    Column("seniority", String(6), nullable=False),
    Column("balance", Uint256(), nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_tranche_holdings_holder", "holder"),
)

TABLES = (abs_pools, pool_bids, pool_assets, pool_collections, pool_distributions, pool_note_sales, pool_claims,
          tranche_holdings)

#: ``AbsPools.AssetStatus`` labels by value.
ASSET_STATUS = {0: "None", 1: "Active", 2: "Repaid", 3: "Defaulted"}
SENIOR, JUNIOR = "Senior", "Junior"

handlers = Handlers()
POOLS, TRANCHE = "AbsPools", "TrancheToken"


def running_tape_hash(previous: bytes, leaf: bytes) -> bytes:
    """``AbsPools``: ``tapeHash = keccak256(abi.encode(tapeHash, leaf))`` per pooled asset."""
    return keccak(abi_encode(["bytes32", "bytes32"], [previous, leaf]))


def _pool(ctx: ProjectionContext, ev: IndexedEvent) -> dict[str, Any]:
    return ctx.get(abs_pools, {"pool_id": ev.args["poolId"]})


def _set_pool(ctx: ProjectionContext, ev: IndexedEvent, **changes: Any) -> None:
    ctx.update(abs_pools, {"pool_id": ev.args["poolId"]}, {**changes, "updated_block": ev.block_number})


def _add(ctx: ProjectionContext, ev: IndexedEvent, **amounts: int) -> None:
    pool = _pool(ctx, ev)
    _set_pool(ctx, ev, **{k: pool[k] + v for k, v in amounts.items()})


@handlers.on(POOLS, "PoolCreated")
def pool_created(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a, p = ev.args, ev.args["params"]
    ctx.insert(abs_pools, {
        "pool_id": a["poolId"], "manager": a["manager"], "name": p["name"], "state": "Building",
        "token": p["token"], "currency": currency_of_token(ctx, p["token"]), "senior_tranche": a["senior"],
        "junior_tranche": a["junior"], "senior_size": p["seniorSize"], "junior_size": p["juniorSize"],
        "senior_coupon_bps": p["seniorCouponBps"], "obligor_cap_bps": p["obligorCapBps"],
        "max_tenor": p["maxTenor"], "asset_count": 0, "open_assets": 0, "expected": 0, "purchase_price": 0,
        "collected": 0, "losses": 0, "undistributed": 0, "senior_interest_paid": 0, "senior_principal_paid": 0,
        "junior_paid": 0, "paid_out": 0, "senior_sold": 0, "junior_sold": 0, "tape_hash": hex_bytes(bytes(32)),
        "tape_root": None, "swept": False, "created_block": ev.block_number, "created_at": ev.block_timestamp,
        "issued_block": None, "issued_at": None, "amortising_block": None, "closed_block": None, "closed_at": None,
        "updated_block": ev.block_number})


@handlers.on(POOLS, "AssetBid")
def asset_bid(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    key = {"pool_id": a["poolId"], "deal_id": a["dealId"]}
    values = {"price": a["price"], "document_hash": hex_bytes(a["documentHash"]), "status": "Open",
              "bid_block": ev.block_number, "updated_block": ev.block_number}
    if ctx.get(pool_bids, key) is None:
        ctx.insert(pool_bids, {**key, **values})
    else:
        ctx.update(pool_bids, key, values)


@handlers.on(POOLS, "AssetPooled")
def asset_pooled(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """The tape fields come from the deal and its invoice as they stand (what the contract read)."""
    a = ev.args
    bid_key = {"pool_id": a["poolId"], "deal_id": a["dealId"]}
    bid = ctx.get(pool_bids, bid_key)
    ctx.update(pool_bids, bid_key, {"status": "Pooled", "updated_block": ev.block_number})
    deal = ctx.get(deals, {"deal_id": a["dealId"]})
    invoice = ctx.get(invoices, {"id": deal["collateral_id"]})
    obligor = deal["obligor"]
    member = ctx.conn.execute(select(participants.c.lei).where(participants.c.account == obligor)).scalar()
    expected = deal["principal"] + deal["fee"]
    ctx.insert(pool_assets, {
        "pool_id": a["poolId"], "idx": a["index"], "deal_id": a["dealId"], "invoice_id": deal["collateral_id"],
        "seller": a["seller"], "price": a["price"], "leaf": hex_bytes(a["leaf"]),
        "face_value": invoice["face_value"], "expected": expected, "due_date": invoice["due_date"],
        "currency": invoice["currency"], "obligor": obligor, "obligor_lei": member,
        "document_hash": bid["document_hash"], "status": "Active", "recovered": 0, "loss": 0,
        "pooled_block": ev.block_number, "pooled_at": ev.block_timestamp, "closed_block": None, "closed_at": None,
        "updated_block": ev.block_number})
    pool = _pool(ctx, ev)
    tape = running_tape_hash(bytes.fromhex(pool["tape_hash"][2:]), bytes(a["leaf"]))
    _set_pool(ctx, ev, asset_count=pool["asset_count"] + 1, open_assets=pool["open_assets"] + 1,
              expected=pool["expected"] + expected, purchase_price=pool["purchase_price"] + a["price"],
              tape_hash=hex_bytes(tape))


@handlers.on(POOLS, "PoolIssued")
def pool_issued(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set_pool(ctx, ev, state="Issued", tape_root=hex_bytes(ev.args["tapeRoot"]),
              tape_hash=hex_bytes(ev.args["tapeHash"]), issued_block=ev.block_number, issued_at=ev.block_timestamp)


@handlers.on(POOLS, "NotesSold")
def notes_sold(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    tranche = SENIOR if a["senior"] else JUNIOR
    ctx.insert(pool_note_sales, {**log_key(ev), "pool_id": a["poolId"], "investor": a["investor"],
                                 "tranche": tranche, "amount": a["amount"], "tx_hash": ev.tx_hash,
                                 "timestamp": ev.block_timestamp})
    _add(ctx, ev, **{f"{tranche.lower()}_sold": a["amount"]})


@handlers.on(POOLS, "AmortisationStarted")
def amortisation_started(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set_pool(ctx, ev, state="Amortising", amortising_block=ev.block_number)


def _asset_of(ctx: ProjectionContext, pool_id: int, deal_id: int) -> dict[str, Any]:
    row = ctx.conn.execute(select(pool_assets.c.idx).where(pool_assets.c.pool_id == pool_id,
                                                           pool_assets.c.deal_id == deal_id)).scalar()
    return ctx.get(pool_assets, {"pool_id": pool_id, "idx": row})


@handlers.on(POOLS, "AssetDefaulted")
def asset_defaulted(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """Emitted before the asset's Collected (which closes it): the loss is recorded here."""
    a = ev.args
    asset = _asset_of(ctx, a["poolId"], a["dealId"])
    ctx.update(pool_assets, {"pool_id": a["poolId"], "idx": asset["idx"]},
               {"loss": a["loss"], "updated_block": ev.block_number})
    _add(ctx, ev, losses=a["loss"])


@handlers.on(POOLS, "Collected")
def collected(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    status = ASSET_STATUS.get(a["status"], f"Unknown{a['status']}")
    ctx.insert(pool_collections, {**log_key(ev), "pool_id": a["poolId"], "deal_id": a["dealId"],
                                  "amount": a["amount"], "status": status, "tx_hash": ev.tx_hash,
                                  "timestamp": ev.block_timestamp})
    asset = _asset_of(ctx, a["poolId"], a["dealId"])
    changes: dict[str, Any] = {"recovered": asset["recovered"] + a["amount"], "status": status,
                               "updated_block": ev.block_number}
    closes = asset["status"] == "Active" and status != "Active"
    if closes:
        changes.update(closed_block=ev.block_number, closed_at=ev.block_timestamp)
    ctx.update(pool_assets, {"pool_id": a["poolId"], "idx": asset["idx"]}, changes)
    pool = _pool(ctx, ev)
    _set_pool(ctx, ev, collected=pool["collected"] + a["amount"], undistributed=pool["undistributed"] + a["amount"],
              open_assets=pool["open_assets"] - (1 if closes else 0))


@handlers.on(POOLS, "Distributed")
def distributed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(pool_distributions, {**log_key(ev), "pool_id": a["poolId"], "senior_interest": a["seniorInterest"],
                                    "senior_principal": a["seniorPrincipal"], "junior": a["junior"],
                                    "tx_hash": ev.tx_hash, "timestamp": ev.block_timestamp})
    pool = _pool(ctx, ev)
    _set_pool(ctx, ev, senior_interest_paid=pool["senior_interest_paid"] + a["seniorInterest"],
              senior_principal_paid=pool["senior_principal_paid"] + a["seniorPrincipal"],
              junior_paid=pool["junior_paid"] + a["junior"], undistributed=a["undistributedLeft"])


@handlers.on(POOLS, "NotesClaimed")
def notes_claimed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(pool_claims, {**log_key(ev), "pool_id": a["poolId"], "tranche": a["tranche"], "holder": a["holder"],
                             "payee": a["to"], "amount": a["amount"], "tx_hash": ev.tx_hash,
                             "timestamp": ev.block_timestamp})
    _add(ctx, ev, paid_out=a["amount"])


@handlers.on(POOLS, "PoolClosed")
def pool_closed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set_pool(ctx, ev, state="Closed", closed_block=ev.block_number, closed_at=ev.block_timestamp)


@handlers.on(POOLS, "RemainderSwept")
def remainder_swept(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    pool = _pool(ctx, ev)
    _set_pool(ctx, ev, swept=True, paid_out=pool["paid_out"] + ev.args["amount"])


@handlers.on(TRANCHE, "Transfer")
def tranche_transfer(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """Note balances (mints at issue go to the pool contract: the unsold notes)."""
    src, dst, value = ev.args["from"], ev.args["to"], ev.args["value"]
    tranche = ev.address
    pool = ctx.conn.execute(select(abs_pools.c.pool_id, abs_pools.c.senior_tranche).where(
        or_(abs_pools.c.senior_tranche == tranche, abs_pools.c.junior_tranche == tranche))).first()
    seniority = SENIOR if pool.senior_tranche == tranche else JUNIOR
    for holder, change in ((src, -value), (dst, value)):
        if holder == ZERO_ADDRESS or value == 0:
            continue
        key = {"tranche": tranche, "holder": holder}
        row = ctx.get(tranche_holdings, key)
        if row is None:
            ctx.insert(tranche_holdings, {**key, "pool_id": pool.pool_id, "seniority": seniority, "balance": change,
                                          "updated_block": ev.block_number})
        else:
            ctx.update(tranche_holdings, key, {"balance": row["balance"] + change, "updated_block": ev.block_number})


__all__ = ["ASSET_STATUS", "TABLES", "handlers", "running_tape_hash", *(t.name for t in TABLES)]
