"""Read model of the network's risk rules: limits against exposure, early warnings, the overdue
run and freezes, four-eyes approvals.

Parties are the rules' entity keys (a member's LEI, a contract's address; ``bytes20`` as
``0x`` + 40 hex digits, see ``values``; ``participants.entity_key`` maps members to them).

Tables (migration ``0003_tradenet_v2``):

* ``risk_lenders``: each lender organisation's policy (book ``currency``: the one it set, or the
  network currency from its first booking without a policy, as the rules do; NULL if neither
  (or if the projection was not given the network currency); concentration cap in bps, four-eyes
  review threshold) and its book (``exposure``, in the book currency);
* ``risk_pairs``: per (lender, obligor): the lender's limit (``limited``, ``limit_amount``, in its
  book currency) and the pair's exposure, which is what an API shows as limit vs exposure;
* ``risk_parties``: per party: the network obligor limit (network currency), the overdue run and
  the freeze. (The obligor's network exposure is not in the rules' events, so it is not here.)
* ``risk_bookings``: every exposure booking of a deal (signed change of the pair, the pair's and
  the book's totals after it);
* ``risk_warnings``: the early-warning feed (``kind`` 1 pair limit, 2 concentration in bps,
  3 network limit (no lender); ``used`` and ``limit_amount`` in the figure's unit), with the deal
  whose booking raised it;
* ``risk_overdue``: each deal that counted as overdue for a party, and the party's run after it;
* ``risk_funding_approvals``: the second key of the lender's organisation that approved funding.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, select

from ..projection import IndexedEvent, ProjectionContext
from ..types import Uint256
from .handlers import Handlers, log_columns, log_key, merge
from .registry import set_setting
from .values import amount_text, code, entity_key

metadata = MetaData()

risk_lenders = Table(
    "risk_lenders", metadata,
    Column("lender", String(42), primary_key=True),
    Column("currency", String(3)),
    Column("cap_bps", Integer, nullable=False),
    Column("review_threshold", Uint256(), nullable=False),
    Column("exposure", Uint256(), nullable=False),
    Column("policy_set_by", String(42)),
    Column("updated_block", BigInteger, nullable=False),
    Column("capital_base", Uint256(), nullable=False, server_default="0"),
)

risk_pairs = Table(
    "risk_pairs", metadata,
    Column("lender", String(42), primary_key=True),
    Column("obligor", String(42), primary_key=True),
    Column("limited", Boolean, nullable=False),
    Column("limit_amount", Uint256(), nullable=False),
    Column("exposure", Uint256(), nullable=False),
    Column("limit_set_by", String(42)),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_risk_pairs_obligor", "obligor"),
)

risk_parties = Table(
    "risk_parties", metadata,
    Column("party", String(42), primary_key=True),
    Column("network_limited", Boolean, nullable=False),
    Column("network_limit", Uint256(), nullable=False),
    Column("overdue_run", Integer, nullable=False),
    Column("frozen", Boolean, nullable=False),
    Column("frozen_block", BigInteger),
    Column("updated_block", BigInteger, nullable=False),
)

risk_bookings = Table(
    "risk_bookings", metadata,
    *log_columns(),
    Column("deal_id", BigInteger, nullable=False),
    Column("lender", String(42), nullable=False),
    Column("obligor", String(42), nullable=False),
    Column("pair_change", Uint256(), nullable=False),  # signed
    Column("pair_exposure", Uint256(), nullable=False),
    Column("book", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Index("ix_risk_bookings_deal_id", "deal_id"),
    Index("ix_risk_bookings_pair", "lender", "obligor"),
)

risk_warnings = Table(
    "risk_warnings", metadata,
    *log_columns(),
    Column("kind", Integer, nullable=False),
    Column("kind_label", String(16), nullable=False),
    Column("lender", String(42)),
    Column("obligor", String(42), nullable=False),
    Column("used", Uint256(), nullable=False),
    Column("limit_amount", Uint256(), nullable=False),
    Column("deal_id", BigInteger),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_risk_warnings_lender", "lender"),
    Index("ix_risk_warnings_obligor", "obligor"),
)

risk_overdue = Table(
    "risk_overdue", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("party", String(42), primary_key=True),
    Column("run", Integer, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Index("ix_risk_overdue_party", "party"),
)

risk_funding_approvals = Table(
    "risk_funding_approvals", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("approver", String(42), nullable=False),
    Column("lender", String(42), nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

TABLES = (risk_lenders, risk_pairs, risk_parties, risk_bookings, risk_warnings, risk_overdue,
          risk_funding_approvals)

#: ``RiskRules.RiskWarning`` kinds (``_warn`` calls in RiskRules.sol).
WARNING_KINDS = {1: "PairLimit", 2: "Concentration", 3: "NetworkLimit"}

handlers = Handlers()
RISK = "RiskRules"

_LENDER = {"currency": None, "cap_bps": 0, "review_threshold": 0, "exposure": 0, "policy_set_by": None,
           "capital_base": 0}
_PAIR = {"limited": False, "limit_amount": 0, "exposure": 0, "limit_set_by": None}
_PARTY = {"network_limited": False, "network_limit": 0, "overdue_run": 0, "frozen": False, "frozen_block": None}


def _party(ctx: ProjectionContext, ev: IndexedEvent, party: bytes, **changes) -> None:
    merge(ctx, risk_parties, {"party": entity_key(party)}, _PARTY, {**changes, "updated_block": ev.block_number})


@handlers.on(RISK, "EngineSet")
def engine_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    set_setting(ctx, ev, "risk_rules.engine", ev.args["engine"])


@handlers.on(RISK, "NetworkReviewThresholdSet")
def network_review_threshold_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    set_setting(ctx, ev, "risk_rules.network_review_threshold", amount_text(ev.args["threshold"]))


@handlers.on(RISK, "LenderPolicySet")
def lender_policy_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    merge(ctx, risk_lenders, {"lender": entity_key(a["lender"])}, _LENDER, {
        "currency": code(a["currency"]), "cap_bps": a["capBps"], "review_threshold": a["reviewThreshold"],
        "policy_set_by": a["by"], "updated_block": ev.block_number})


@handlers.on(RISK, "CapitalBaseSet")
def capital_base_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    merge(ctx, risk_lenders, {"lender": entity_key(a["lender"])}, _LENDER, {
        "capital_base": a["capitalBase"], "updated_block": ev.block_number})


@handlers.on(RISK, "LimitSet")
def limit_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    merge(ctx, risk_pairs, {"lender": entity_key(a["lender"]), "obligor": entity_key(a["obligor"])}, _PAIR, {
        "limited": a["limited"], "limit_amount": a["limit"], "limit_set_by": a["by"],
        "updated_block": ev.block_number})


@handlers.on(RISK, "NetworkLimitSet")
def network_limit_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _party(ctx, ev, ev.args["obligor"], network_limited=ev.args["limited"], network_limit=ev.args["limit"])


@handlers.on(RISK, "ExposureBooked")
def exposure_booked(ctx: ProjectionContext, ev: IndexedEvent, network_currency: str | None = None) -> None:
    """`network_currency`: the rules' (an immutable constructor argument no event carries; see
    ``TradenetProjection``): a lender without a policy books in it from its first booking on."""
    a = ev.args
    lender, obligor = entity_key(a["lender"]), entity_key(a["obligor"])
    ctx.insert(risk_bookings, {
        **log_key(ev), "deal_id": a["dealId"], "lender": lender, "obligor": obligor, "pair_change": a["pairChange"],
        "pair_exposure": a["pairExposure"], "book": a["book"], "tx_hash": ev.tx_hash})
    merge(ctx, risk_pairs, {"lender": lender, "obligor": obligor}, _PAIR,
          {"exposure": a["pairExposure"], "updated_block": ev.block_number})
    book = ctx.get(risk_lenders, {"lender": lender})
    changes = {"exposure": a["book"], "updated_block": ev.block_number}
    if a["pairChange"] > 0 and (book is None or book["currency"] is None):
        changes["currency"] = network_currency
    merge(ctx, risk_lenders, {"lender": lender}, _LENDER, changes)


@handlers.on(RISK, "RiskWarning")
def risk_warning(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """A warning follows the booking that raised it, in the same call of the rules."""
    a = ev.args
    deal_id = ctx.conn.execute(
        select(risk_bookings.c.deal_id)
        .where(risk_bookings.c.block_number == ev.block_number, risk_bookings.c.log_index < ev.log_index,
               risk_bookings.c.tx_hash == ev.tx_hash)
        .order_by(risk_bookings.c.log_index.desc()).limit(1)
    ).scalar()
    ctx.insert(risk_warnings, {
        **log_key(ev), "kind": a["kind"], "kind_label": WARNING_KINDS.get(a["kind"], f"Unknown{a['kind']}"),
        "lender": entity_key(a["lender"]), "obligor": entity_key(a["obligor"]), "used": a["used"],
        "limit_amount": a["limit"], "deal_id": deal_id, "tx_hash": ev.tx_hash, "timestamp": ev.block_timestamp})


@handlers.on(RISK, "OverdueCounted")
def overdue_counted(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(risk_overdue, {"deal_id": a["dealId"], "party": entity_key(a["party"]), "run": a["run"],
                              "block_number": ev.block_number})
    _party(ctx, ev, a["party"], overdue_run=a["run"])


@handlers.on(RISK, "OverdueRunReset")
def overdue_run_reset(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _party(ctx, ev, ev.args["party"], overdue_run=0)


@handlers.on(RISK, "Frozen")
def frozen(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _party(ctx, ev, ev.args["party"], frozen=True, frozen_block=ev.block_number, overdue_run=ev.args["run"])


@handlers.on(RISK, "Unfrozen")
def unfrozen(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _party(ctx, ev, ev.args["party"], frozen=False, frozen_block=None, overdue_run=0)


@handlers.on(RISK, "FundingApproved")
def funding_approved(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    merge(ctx, risk_funding_approvals, {"deal_id": a["dealId"]}, {}, {
        "approver": a["approver"], "lender": entity_key(a["lender"]), "block_number": ev.block_number})


__all__ = ["TABLES", "WARNING_KINDS", "handlers", *(t.name for t in TABLES)]
