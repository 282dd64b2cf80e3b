"""Read model of the deal engine: products, deals of every product, their milestones, credits
(pull payouts), FX locks, revoked terms and lender assignments.

Tables (migration ``0003_tradenet_v2``):

* ``deal_products``: the product modules registered with the engine and their configuration;
* ``deals``: one row per deal (id assigned by the engine), its full accepted terms, product
  (``product_id`` and the Solidity label: Receivable, Order, ReceiptPledge, Documentary),
  collateral, parties, obligor and obligation (``obligation_currency``: the collateral's
  currency, NULL without an obligation), currency, state, amounts released and the settlement
  figures (``amount_due``, ``to_lender``, ``to_borrower``, ``unreleased_returned``: the waterfall
  of a repayment; a default sets ``unreleased_returned``), the overdue stages, the pending
  assignment approval, and the block/time of acceptance, funding, settlement (cancelled, repaid,
  defaulted or settled: the engine's ``settledAt``) and closing;
* ``deal_milestones``: one row per milestone with its amount (the engine's rounding), status
  (Pending, Released, PaidOut, Contested), the oracle event that released it (NULL for an
  advance or a release found by a sync of an any-location milestone) and, if contested, the
  retracted event;
* ``deal_credits``: per (deal, account): credited (net of reversals), withdrawn, and claimable
  now (= the engine's ``claimable``);
* ``deal_fx_locks``: the FX rate locked at acceptance of a cross-currency deal;
* ``deal_terms_revocations``: signed terms revoked before acceptance, by digest;
* ``deal_assignments``: every assignment of a deal's lender position.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text, select

from ...vocabulary import BPS, DealState, MilestoneStatus, Product
from ..projection import IndexedEvent, ProjectionContext
from ..types import Uint256
from .handlers import Handlers, log_columns, log_key, merge
from .registry import currency_tokens, settlement_tokens
from .values import code, hex_bytes, label_of, opt_address, opt_hash

metadata = MetaData()

deal_products = Table(
    "deal_products", metadata,
    Column("module", String(42), primary_key=True),
    Column("product_id", Integer, nullable=False),
    Column("product", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("gates_release", Boolean, nullable=False),
    Column("self_liquidating", Boolean, nullable=False),
    Column("borrower_roles", Integer, nullable=False),
    Column("lender_roles", Integer, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_deal_products_product_id", "product_id"),
)

deals = Table(
    "deals", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("product_id", Integer, nullable=False),
    Column("product", String(16), nullable=False),
    Column("product_module", String(42), nullable=False),
    Column("collateral_id", Uint256(), nullable=False),
    Column("borrower", String(42), nullable=False),
    Column("lender", String(42), nullable=False),
    Column("obligor", String(42)),
    Column("obligation", Uint256(), nullable=False),
    Column("obligation_currency", String(3)),
    Column("token", String(42), nullable=False),
    Column("currency", String(3)),
    Column("principal", Uint256(), nullable=False),
    Column("fee", Uint256(), nullable=False),
    Column("maturity", BigInteger, nullable=False),
    Column("grace_period", BigInteger, nullable=False),
    Column("accept_by", BigInteger, nullable=False),
    Column("fx_valid_until", BigInteger, nullable=False),
    Column("shipment_id", String(66)),
    Column("agreement_hash", String(66), nullable=False),
    Column("nonce", String(66), nullable=False),
    Column("extra", Text, nullable=False),
    Column("terms_digest", String(66), nullable=False),
    Column("submitter", String(42), nullable=False),
    Column("state", String(10), nullable=False),
    Column("released", Uint256(), nullable=False),
    Column("payer", String(42)),
    Column("amount_due", Uint256()),
    Column("to_lender", Uint256()),
    Column("to_borrower", Uint256()),
    Column("unreleased_returned", Uint256()),
    Column("overdue_flagged", Boolean, nullable=False),
    Column("overdue_owed", Uint256()),
    Column("overdue_counted", Boolean, nullable=False),
    Column("assignment_approved_to", String(42)),
    Column("accepted_block", BigInteger, nullable=False),
    Column("accepted_at", BigInteger, nullable=False),
    Column("funded_block", BigInteger),
    Column("funded_at", BigInteger),
    Column("settled_block", BigInteger),
    Column("settled_at", BigInteger),
    Column("closed_block", BigInteger),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_deals_borrower", "borrower"),
    Index("ix_deals_lender", "lender"),
    Index("ix_deals_obligor", "obligor"),
    Index("ix_deals_state", "state"),
    Index("ix_deals_product_id", "product_id"),
    Index("ix_deals_currency", "currency"),
    Index("ix_deals_shipment_id", "shipment_id"),
    Index("ix_deals_maturity", "maturity"),
    Index("ix_deals_collateral_id", "collateral_id"),
)

deal_milestones = Table(
    "deal_milestones", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("event_code", String(4), nullable=False),  # "" for an advance (released at funding)
    Column("location", String(5), nullable=False),  # "" for any transport call
    Column("share_bps", Integer, nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("status", String(10), nullable=False),
    Column("event_id", String(66)),
    Column("released_block", BigInteger),
    Column("contested_event_id", String(66)),
    Column("contested_block", BigInteger),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_deal_milestones_event_id", "event_id"),
)

deal_credits = Table(
    "deal_credits", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(42), primary_key=True),
    Column("credited", Uint256(), nullable=False),
    Column("withdrawn", Uint256(), nullable=False),
    Column("claimable", Uint256(), nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_deal_credits_account", "account"),
)

deal_fx_locks = Table(
    "deal_fx_locks", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("base_currency", String(3), nullable=False),
    Column("quote_currency", String(3), nullable=False),
    Column("rate", Uint256(), nullable=False),
    Column("observed_at", BigInteger, nullable=False),
    Column("valid_until", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

deal_terms_revocations = Table(
    "deal_terms_revocations", metadata,
    Column("terms_digest", String(66), primary_key=True),
    Column("revoked_by", String(42), nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

deal_assignments = Table(
    "deal_assignments", metadata,
    *log_columns(),
    Column("deal_id", BigInteger, nullable=False),
    Column("previous_lender", String(42), nullable=False),
    Column("new_lender", String(42), nullable=False),
    Index("ix_deal_assignments_deal_id", "deal_id"),
)

TABLES = (deal_products, deals, deal_milestones, deal_credits, deal_fx_locks, deal_terms_revocations,
          deal_assignments)

handlers = Handlers()
ENGINE = "DealEngine"


def milestone_amounts(principal: int, shares_bps: list[int]) -> list[int]:
    """The engine's schedule: floor(principal * bps / 10000) each, the last one the remainder."""
    out = [principal * bps // BPS for bps in shares_bps[:-1]]
    return [*out, principal - sum(out)]


def currency_of_token(ctx: ProjectionContext, token: str) -> str | None:
    """The currency a settlement token is registered for (or was created for by the factory)."""
    registered = ctx.conn.execute(
        select(settlement_tokens.c.currency).where(settlement_tokens.c.token == token)).scalar()
    if registered is not None:
        return registered
    created = ctx.get(currency_tokens, {"token": token})
    return created["currency"] if created else None


def _deal(ctx: ProjectionContext, ev: IndexedEvent, **changes: Any) -> None:
    ctx.update(deals, {"deal_id": ev.args["dealId"]}, {**changes, "updated_block": ev.block_number})


def _milestone(ctx: ProjectionContext, ev: IndexedEvent, **changes: Any) -> None:
    ctx.update(deal_milestones, {"deal_id": ev.args["dealId"], "idx": ev.args["milestone"]},
               {**changes, "updated_block": ev.block_number})


def _credit(ctx: ProjectionContext, ev: IndexedEvent, account: str, amount: int) -> None:
    """The engine's ``_credit`` (negative: a reversed release); a zero credit changes nothing."""
    if amount == 0:
        return
    key = {"deal_id": ev.args["dealId"], "account": account}
    row = ctx.get(deal_credits, key)
    if row is None:
        ctx.insert(deal_credits, {**key, "credited": amount, "withdrawn": 0, "claimable": amount,
                                  "updated_block": ev.block_number})
    else:
        ctx.update(deal_credits, key, {"credited": row["credited"] + amount, "claimable": row["claimable"] + amount,
                                       "updated_block": ev.block_number})


def _settled(ev: IndexedEvent, state: DealState) -> dict[str, Any]:
    return {"state": state.label, "settled_block": ev.block_number, "settled_at": ev.block_timestamp}


@handlers.on(ENGINE, "ProductSet")
def product_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    c = ev.args["config"]
    merge(ctx, deal_products, {"module": ev.args["module"]}, {}, {
        "product_id": c["id"], "product": label_of(Product, c["id"]), "enabled": c["enabled"],
        "gates_release": c["gatesRelease"], "self_liquidating": c["selfLiquidating"],
        "borrower_roles": c["borrowerRoles"], "lender_roles": c["lenderRoles"], "updated_block": ev.block_number})


@handlers.on(ENGINE, "DealAccepted")
def deal_accepted(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a, t = ev.args, ev.args["terms"]
    deal_id = a["dealId"]
    product = ctx.get(deal_products, {"module": t["product"]})
    currency = currency_of_token(ctx, t["settlementToken"])
    if t["fxValidUntil"]:  # a lock was taken (FxRateLocked came first, in the same transaction)
        obligation_currency = ctx.get(deal_fx_locks, {"deal_id": deal_id})["base_currency"]
    else:  # without a lock the collateral's currency is the deal's
        obligation_currency = currency if a["obligation"] else None
    ctx.insert(deals, {
        "deal_id": deal_id, "product_id": product["product_id"], "product": product["product"],
        "product_module": t["product"], "collateral_id": a["collateralId"], "borrower": a["borrower"],
        "lender": a["lender"], "obligor": opt_address(a["obligor"]), "obligation": a["obligation"],
        "obligation_currency": obligation_currency, "token": t["settlementToken"], "currency": currency,
        "principal": t["principal"], "fee": t["fee"], "maturity": t["maturity"], "grace_period": t["gracePeriod"],
        "accept_by": t["acceptBy"], "fx_valid_until": t["fxValidUntil"], "shipment_id": opt_hash(t["shipmentId"]),
        "agreement_hash": hex_bytes(t["agreementHash"]), "nonce": hex_bytes(t["nonce"]),
        "extra": hex_bytes(t["extra"]), "terms_digest": hex_bytes(a["termsDigest"]), "submitter": a["submitter"],
        "state": DealState.ACCEPTED.label, "released": 0, "payer": None, "amount_due": None, "to_lender": None,
        "to_borrower": None, "unreleased_returned": None, "overdue_flagged": False, "overdue_owed": None,
        "overdue_counted": False, "assignment_approved_to": None, "accepted_block": ev.block_number,
        "accepted_at": ev.block_timestamp, "funded_block": None, "funded_at": None, "settled_block": None,
        "settled_at": None, "closed_block": None, "updated_block": ev.block_number})
    milestones = t["milestones"]
    amounts = milestone_amounts(t["principal"], [m["shareBps"] for m in milestones])
    for i, (m, amount) in enumerate(zip(milestones, amounts)):
        ctx.insert(deal_milestones, {
            "deal_id": deal_id, "idx": i, "event_code": code(m["eventCode"]), "location": code(m["location"]),
            "share_bps": m["shareBps"], "amount": amount, "status": MilestoneStatus.PENDING.label, "event_id": None,
            "released_block": None, "contested_event_id": None, "contested_block": None,
            "updated_block": ev.block_number})


@handlers.on(ENGINE, "TermsRevoked")
def terms_revoked(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    ctx.insert(deal_terms_revocations, {"terms_digest": hex_bytes(ev.args["termsDigest"]),
                                        "revoked_by": ev.args["by"], "block_number": ev.block_number})


@handlers.on(ENGINE, "FxRateLocked")
def fx_rate_locked(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(deal_fx_locks, {
        "deal_id": a["dealId"], "base_currency": code(a["baseCurrency"]), "quote_currency": code(a["quoteCurrency"]),
        "rate": a["rate"], "observed_at": a["observedAt"], "valid_until": a["validUntil"],
        "block_number": ev.block_number})


@handlers.on(ENGINE, "DealFunded")
def deal_funded(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _deal(ctx, ev, state=DealState.FUNDED.label, funded_block=ev.block_number, funded_at=ev.block_timestamp)


@handlers.on(ENGINE, "DealCancelled")
def deal_cancelled(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _deal(ctx, ev, **_settled(ev, DealState.CANCELLED))


@handlers.on(ENGINE, "MilestoneReleased")
def milestone_released(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    _milestone(ctx, ev, status=MilestoneStatus.RELEASED.label, event_id=opt_hash(a["eventId"]),
               released_block=ev.block_number)
    deal = ctx.get(deals, {"deal_id": a["dealId"]})
    _deal(ctx, ev, released=a["totalReleased"])
    _credit(ctx, ev, deal["borrower"], a["amount"])


@handlers.on(ENGINE, "MilestoneReversed")
def milestone_reversed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    _milestone(ctx, ev, status=MilestoneStatus.PENDING.label, event_id=None, released_block=None)
    deal = ctx.get(deals, {"deal_id": a["dealId"]})
    _deal(ctx, ev, released=a["totalReleased"])
    _credit(ctx, ev, deal["borrower"], -a["amount"])


@handlers.on(ENGINE, "MilestoneContested")
def milestone_contested(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _milestone(ctx, ev, status=MilestoneStatus.CONTESTED.label, contested_event_id=opt_hash(ev.args["eventId"]),
               contested_block=ev.block_number)


@handlers.on(ENGINE, "DealRepaid")
def deal_repaid(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    w = ev.args["waterfall"]
    deal = ctx.get(deals, {"deal_id": ev.args["dealId"]})
    _deal(ctx, ev, **_settled(ev, DealState.REPAID), payer=ev.args["payer"], amount_due=w["amountDue"],
          to_lender=w["toLender"], to_borrower=w["toBorrower"], unreleased_returned=w["unreleasedReturned"])
    _credit(ctx, ev, deal["lender"], w["toLender"])
    _credit(ctx, ev, deal["borrower"], w["toBorrower"])


@handlers.on(ENGINE, "DealDefaulted")
def deal_defaulted(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    _deal(ctx, ev, **_settled(ev, DealState.DEFAULTED), unreleased_returned=a["unreleasedReturned"],
          released=a["released"])
    _credit(ctx, ev, a["lender"], a["unreleasedReturned"])


@handlers.on(ENGINE, "DealSettled")
def deal_settled(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """A self-liquidating deal fully released: the engine records it as Repaid."""
    _deal(ctx, ev, **_settled(ev, DealState.REPAID))


@handlers.on(ENGINE, "DealOverdue")
def deal_overdue(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _deal(ctx, ev, overdue_flagged=True, overdue_owed=ev.args["owed"])


@handlers.on(ENGINE, "DealOverdueCounted")
def deal_overdue_counted(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _deal(ctx, ev, overdue_counted=True)


@handlers.on(ENGINE, "ObligationChanged")
def obligation_changed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """The currency stays the accepted one (the engine requires it)."""
    a = ev.args
    deal = ctx.get(deals, {"deal_id": a["dealId"]})
    _deal(ctx, ev, collateral_id=a["collateralId"], obligor=opt_address(a["obligor"]), obligation=a["obligation"],
          obligation_currency=(deal["obligation_currency"] or deal["currency"]) if a["obligation"] else None)


@handlers.on(ENGINE, "AssignmentApproved")
def assignment_approved(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _deal(ctx, ev, assignment_approved_to=opt_address(ev.args["assignee"]))


@handlers.on(ENGINE, "LenderAssigned")
def lender_assigned(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    _deal(ctx, ev, lender=a["newLender"], assignment_approved_to=None)
    ctx.insert(deal_assignments, {**log_key(ev), "deal_id": a["dealId"], "previous_lender": a["previousLender"],
                                  "new_lender": a["newLender"]})


@handlers.on(ENGINE, "Withdrawn")
def withdrawn(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """Everything credited to the account leaves; a borrower's withdrawal marks every released
    milestone PaidOut (its funds moved on)."""
    a = ev.args
    key = {"deal_id": a["dealId"], "account": a["account"]}
    row = ctx.get(deal_credits, key)
    ctx.update(deal_credits, key, {"withdrawn": row["withdrawn"] + a["amount"],
                                   "claimable": row["claimable"] - a["amount"], "updated_block": ev.block_number})
    deal = ctx.get(deals, {"deal_id": a["dealId"]})
    if a["account"] != deal["borrower"]:
        return
    released = ctx.conn.execute(
        select(deal_milestones.c.idx).where(deal_milestones.c.deal_id == a["dealId"],
                                            deal_milestones.c.status == MilestoneStatus.RELEASED.label)
    ).scalars().all()
    for idx in released:
        ctx.update(deal_milestones, {"deal_id": a["dealId"], "idx": idx},
                   {"status": MilestoneStatus.PAID_OUT.label, "updated_block": ev.block_number})


@handlers.on(ENGINE, "DealClosed")
def deal_closed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _deal(ctx, ev, state=DealState.CLOSED.label, closed_block=ev.block_number)


__all__ = ["TABLES", "handlers", "milestone_amounts", *(t.name for t in TABLES)]
