"""Read model of receivable-financing deals, their milestones, confirmed shipment events and FX
rates (migration ``0004_deals``). Pure function of the events, like every projection."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table

from ..projection import IndexedEvent, Projection, ProjectionContext
from ..types import JSONType, Uint256
from .tradenet import invoices

metadata = MetaData()

deals = Table(
    "deals", metadata,
    Column("deal_id", Uint256(), primary_key=True),
    Column("invoice_id", BigInteger, nullable=False),
    Column("borrower", String(42), nullable=False),
    Column("lender", String(42), nullable=False),
    Column("buyer", String(42)),
    Column("token", String(42), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", Uint256(), nullable=False),
    Column("fee", Uint256(), nullable=False),
    Column("face_value", Uint256()),
    Column("maturity", BigInteger, nullable=False),
    Column("grace_period", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),
    Column("released", Uint256(), nullable=False),
    Column("to_lender", Uint256()),
    Column("to_borrower", Uint256()),
    Column("overdue_flagged", Boolean, nullable=False),
    Column("terms_digest", String(66), nullable=False),
    Column("accepted_block", BigInteger, nullable=False),
    Column("accepted_at", BigInteger, nullable=False),
    Column("funded_block", BigInteger),
    Column("settled_block", BigInteger),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_deals_lender", "lender"),
    Index("ix_deals_borrower", "borrower"),
    Index("ix_deals_buyer", "buyer"),
    Index("ix_deals_state", "state"),
)

deal_milestones = Table(
    "deal_milestones", metadata,
    Column("deal_id", Uint256(), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("shipment_id", String(66), nullable=False),
    Column("event_code", String(4), nullable=False),
    Column("share_bps", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("amount", Uint256()),
    Column("released_by", String(66)),
    Column("released_block", BigInteger),
    Index("ix_deal_milestones_shipment", "shipment_id"),
)

oracle_events = Table(
    "oracle_events", metadata,
    Column("event_id", String(66), primary_key=True),
    Column("shipment_id", String(66), nullable=False),
    Column("event_code", String(4), nullable=False),
    Column("location", String(5), nullable=False),
    Column("event_time", BigInteger, nullable=False),
    Column("evidence_hash", String(66), nullable=False),
    Column("submitter", String(42), nullable=False),
    Column("signers", JSONType, nullable=False),
    Column("confirmed_block", BigInteger, nullable=False),
    Column("confirmed_at", BigInteger, nullable=False),
    Column("retracted", Boolean, nullable=False),
    Column("retracted_block", BigInteger),
    Index("ix_oracle_events_shipment", "shipment_id"),
)

fx_rates = Table(
    "fx_rates", metadata,
    Column("base_currency", String(3), primary_key=True),
    Column("quote_currency", String(3), primary_key=True),
    Column("observed_at", BigInteger, primary_key=True, autoincrement=False),
    Column("rate", Uint256(), nullable=False),  # fixed point, 8 decimals
    Column("digest", String(66), nullable=False),
    Column("submitter", String(42), nullable=False),
    Column("signers", JSONType, nullable=False),
    Column("block_number", BigInteger, nullable=False),
)

DEAL_STATES = ("None", "Accepted", "Funded", "Repaid", "Defaulted", "Cancelled", "Closed")


def _h(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def _ascii(b: bytes) -> str:
    return bytes(b).rstrip(b"\x00").decode("ascii", errors="replace")


class DealsProjection(Projection):
    """Follows ReceivableFinancing, LogisticsOracle and FxRateStore (names as in the ContractSpecs).
    `currencies` maps settlement-token addresses to ISO codes (from the deployment)."""

    name = "deals"
    tables = (deals, deal_milestones, oracle_events, fx_rates)

    def __init__(self, currencies: dict[str, str], financing: str = "ReceivableFinancing",
                 oracle: str = "LogisticsOracle", fx: str = "FxRateStore"):
        self.currencies = {a.lower(): c for a, c in currencies.items()}
        self._handlers = {financing: self._deal, oracle: self._oracle, fx: self._fx}

    def handles(self, event: IndexedEvent) -> bool:
        return event.contract in self._handlers

    def apply(self, ctx: ProjectionContext, event: IndexedEvent) -> None:
        self._handlers[event.contract](ctx, event)

    def _deal(self, ctx: ProjectionContext, ev: IndexedEvent) -> None:
        a, n, b = ev.args, ev.event, ev.block_number
        if n == "DealAccepted":
            t = a["terms"]
            inv = ctx.get(invoices, {"id": t["invoiceId"]}) if t["invoiceId"] < 2**63 else None
            ctx.insert(deals, {
                "deal_id": a["dealId"], "invoice_id": t["invoiceId"], "borrower": t["borrower"], "lender": t["lender"],
                "buyer": inv["buyer"] if inv else None, "token": t["settlementToken"],
                "currency": self.currencies.get(t["settlementToken"].lower(), "???"), "principal": t["principal"],
                "fee": t["fee"], "face_value": inv["face_value"] if inv else None, "maturity": t["maturity"],
                "grace_period": t["gracePeriod"], "state": "Accepted", "released": 0, "to_lender": None,
                "to_borrower": None, "overdue_flagged": False, "terms_digest": _h(a["termsDigest"]),
                "accepted_block": b, "accepted_at": ev.block_timestamp, "funded_block": None, "settled_block": None,
                "updated_block": b})
            for i, m in enumerate(t["milestones"]):
                ctx.insert(deal_milestones, {
                    "deal_id": a["dealId"], "idx": i, "shipment_id": _h(m["shipmentId"]),
                    "event_code": _ascii(m["eventCode"]), "share_bps": m["shareBps"], "status": "Pending",
                    "amount": None, "released_by": None, "released_block": None})
            return
        key = {"deal_id": a["dealId"]}
        if n == "DealFunded":
            ctx.update(deals, key, {"state": "Funded", "funded_block": b, "updated_block": b})
        elif n == "DealCancelled":
            ctx.update(deals, key, {"state": "Cancelled", "settled_block": b, "updated_block": b})
        elif n in ("MilestoneReleased", "MilestoneReversed"):
            released = n == "MilestoneReleased"
            ctx.update(deal_milestones, {"deal_id": a["dealId"], "idx": a["milestone"]}, {
                "status": "Released" if released else "Pending", "amount": a["amount"] if released else None,
                "released_by": _h(a["eventId"]) if released else None, "released_block": b if released else None})
            ctx.update(deals, key, {"released": a["totalReleased"], "updated_block": b})
        elif n == "DealRepaid":
            w = a["waterfall"]
            ctx.update(deals, key, {"state": "Repaid", "to_lender": w["toLender"], "to_borrower": w["toBorrower"],
                                    "settled_block": b, "updated_block": b})
        elif n == "DealDefaulted":
            ctx.update(deals, key, {"state": "Defaulted", "to_lender": a["unreleasedReturned"],
                                    "settled_block": b, "updated_block": b})
        elif n == "DealOverdue":
            ctx.update(deals, key, {"overdue_flagged": True, "updated_block": b})
        elif n == "DealClosed":
            ctx.update(deals, key, {"state": "Closed", "updated_block": b})

    def _oracle(self, ctx: ProjectionContext, ev: IndexedEvent) -> None:
        a = ev.args
        if ev.event == "EventConfirmed":
            ctx.insert(oracle_events, {
                "event_id": _h(a["eventId"]), "shipment_id": _h(a["shipmentId"]), "event_code": _ascii(a["eventCode"]),
                "location": _ascii(a["location"]), "event_time": a["eventTime"], "evidence_hash": _h(a["evidenceHash"]),
                "submitter": a["submitter"], "signers": list(a["signers"]), "confirmed_block": ev.block_number,
                "confirmed_at": ev.block_timestamp, "retracted": False, "retracted_block": None})
        elif ev.event == "EventRetracted":
            ctx.update(oracle_events, {"event_id": _h(a["eventId"])},
                       {"retracted": True, "retracted_block": ev.block_number})

    def _fx(self, ctx: ProjectionContext, ev: IndexedEvent) -> None:
        if ev.event != "RateUpdated":
            return
        a = ev.args
        ctx.insert(fx_rates, {
            "base_currency": _ascii(a["baseCurrency"]), "quote_currency": _ascii(a["quoteCurrency"]),
            "observed_at": a["observedAt"], "rate": a["rate"], "digest": _h(a["digest"]), "submitter": a["submitter"],
            "signers": list(a["signers"]), "block_number": ev.block_number})
