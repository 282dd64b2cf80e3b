"""Read model of what the deal engine's product modules add to their deals: order-financing
rollovers and documentary credits.

Tables (migration ``0003_tradenet_v2``), keyed by the engine's deal id:

* ``order_rollovers``: an order financing rolled into the invoice its order turned into (the
  deal's collateral and obligation then follow ``ObligationChanged`` in ``deals``);
* ``documentary_credits``: the credit terms of a documentary payment (applicant, presenter,
  latest shipment date; the expiry is the deal's maturity), the number of required and of
  complying documents, and the applicant's waiver;
* ``documentary_documents``: per required document type, the expected hash (NULL: any) and the
  latest presentation (hash, document date, when, complying) with the number of presentations.

A credit is opened inside the engine's acceptance, before its ``DealAccepted``: these rows do not
require the deal's row.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table

from ..projection import IndexedEvent, ProjectionContext
from ..types import Uint256
from .handlers import Handlers
from .values import code, opt_hash

metadata = MetaData()

order_rollovers = Table(
    "order_rollovers", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("order_id", BigInteger, nullable=False),
    Column("invoice_id", Uint256(), nullable=False),
    Column("rolled_by", String(42), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Index("ix_order_rollovers_order_id", "order_id"),
    Index("ix_order_rollovers_invoice_id", "invoice_id"),
)

documentary_credits = Table(
    "documentary_credits", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("applicant", String(42), nullable=False),
    Column("presenter", String(42), nullable=False),
    Column("latest_shipment", BigInteger, nullable=False),
    Column("required", Integer, nullable=False),
    Column("complying", Integer, nullable=False),
    Column("waived", Boolean, nullable=False),
    Column("waived_block", BigInteger),
    Column("opened_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_documentary_credits_applicant", "applicant"),
    Index("ix_documentary_credits_presenter", "presenter"),
)

documentary_documents = Table(
    "documentary_documents", metadata,
    Column("deal_id", BigInteger, primary_key=True, autoincrement=False),
    Column("doc_type", String(4), primary_key=True),
    Column("idx", Integer, nullable=False),
    Column("expected_hash", String(66)),
    Column("document_hash", String(66)),
    Column("document_date", BigInteger),
    Column("presented_at", BigInteger),
    Column("presented_block", BigInteger),
    Column("complying", Boolean, nullable=False),
    Column("presentations", Integer, nullable=False),
)

TABLES = (order_rollovers, documentary_credits, documentary_documents)

handlers = Handlers()
CREDITS = "DocumentaryCredit"


@handlers.on("OrderFinancing", "RolledToInvoice")
def rolled_to_invoice(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(order_rollovers, {"deal_id": a["dealId"], "order_id": a["orderId"], "invoice_id": a["invoiceId"],
                                 "rolled_by": a["by"], "block_number": ev.block_number})


@handlers.on(CREDITS, "CreditOpened")
def credit_opened(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a, t = ev.args, ev.args["terms"]
    ctx.insert(documentary_credits, {
        "deal_id": a["dealId"], "applicant": a["applicant"], "presenter": a["presenter"],
        "latest_shipment": t["latestShipment"], "required": len(t["documents"]), "complying": 0, "waived": False,
        "waived_block": None, "opened_block": ev.block_number, "updated_block": ev.block_number})
    for i, d in enumerate(t["documents"]):
        ctx.insert(documentary_documents, {
            "deal_id": a["dealId"], "doc_type": code(d["docType"]), "idx": i,
            "expected_hash": opt_hash(d["expectedHash"]),
            "document_hash": None, "document_date": None, "presented_at": None, "presented_block": None,
            "complying": False, "presentations": 0})


@handlers.on(CREDITS, "DocumentPresented")
def document_presented(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """The latest presentation of a type replaces the previous one (a cure or a new discrepancy)."""
    a = ev.args
    key = {"deal_id": a["dealId"], "doc_type": code(a["docType"])}
    doc = ctx.get(documentary_documents, key)
    ctx.update(documentary_documents, key, {
        "document_hash": opt_hash(a["documentHash"]), "document_date": a["documentDate"],
        "presented_at": ev.block_timestamp, "presented_block": ev.block_number, "complying": a["complying"],
        "presentations": doc["presentations"] + 1})
    if doc["complying"] != a["complying"]:
        credit = ctx.get(documentary_credits, {"deal_id": a["dealId"]})
        ctx.update(documentary_credits, {"deal_id": a["dealId"]}, {
            "complying": credit["complying"] + (1 if a["complying"] else -1), "updated_block": ev.block_number})


@handlers.on(CREDITS, "DiscrepanciesWaived")
def discrepancies_waived(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    ctx.update(documentary_credits, {"deal_id": ev.args["dealId"]},
               {"waived": True, "waived_block": ev.block_number, "updated_block": ev.block_number})


__all__ = ["TABLES", "handlers", *(t.name for t in TABLES)]
