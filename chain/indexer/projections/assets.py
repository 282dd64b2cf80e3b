"""Read model of the tokenised documents: invoices (with split parts and direct T/T payments),
purchase orders and warehouse receipts (with their pledges).

Tables (migration ``0003_tradenet_v2``):

* ``invoices``: one row per invoice token, id = the 256-bit fingerprint (``Uint256``). A split
  part is a row of its own: ``parent_id`` (the invoice it was split from), ``root_id`` (the
  original invoice; its own id for a root) and ``part_index``; it keeps its root's number,
  seller, buyer, dates, currency, document, shipment and order. The split parent stays, in
  state Split, with no holder. The live parts of a root are its rows with ``root_id`` = root and
  ``parent_id`` set and a state other than Split. ``paid_total`` is what the buyer paid directly
  (T/T, ``InvoiceSettlement``); ``financier`` the escrow that financed it, ``settled_by`` the
  contract that marked it Paid or Defaulted;
* ``invoice_payments``: every direct payment (T/T or pro-rata parts payment) with the running
  total;
* ``purchase_orders``: one row per order (``escrow``: the escrow that financed, closed or
  defaulted it; ``invoice_id``: the invoice issued against it);
* ``receipts``: one row per warehouse receipt, with its current pledge
  (``pledge_enforceable_after``: maturity + grace of a direct pledge, 0 for a pledge to a deal
  escrow, NULL if not pledged) and ``pledge_count``;
* ``receipt_pledges``: every pledge of a receipt (``seq`` 1, 2, ... per receipt), its status
  (Active, Released, Enforced) and, when enforced, whom the receipt went to.

Holders follow the ERC-721 ``Transfer`` events; mints and burns come with the event that creates
or consumes the row (issue, split, redemption), which sets or clears the holder.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

from ...vocabulary import InvoiceState, OrderState
from ..projection import IndexedEvent, ProjectionContext
from ..types import Uint256
from .handlers import Handlers, log_columns, log_key
from .registry import set_setting
from .values import ZERO_ADDRESS, code, hex_bytes, opt_hash

metadata = MetaData()

invoices = Table(
    "invoices", metadata,
    Column("id", Uint256(), primary_key=True),
    Column("seller", String(42), nullable=False),
    Column("buyer", String(42), nullable=False),
    Column("holder", String(42)),
    Column("state", String(10), nullable=False),
    Column("invoice_number", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("face_value", Uint256(), nullable=False),
    Column("issue_date", BigInteger, nullable=False),
    Column("due_date", BigInteger, nullable=False),
    Column("document_hash", String(66), nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("shipment_id", String(66)),
    Column("order_id", BigInteger),
    Column("parent_id", Uint256()),
    Column("root_id", Uint256(), nullable=False),
    Column("part_index", Integer),
    Column("financier", String(42)),
    Column("settled_by", String(42)),
    Column("cancelled_by", String(42)),
    Column("cancel_reason", Text),
    Column("paid_total", Uint256(), nullable=False),
    Column("issued_block", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_invoices_seller", "seller"),
    Index("ix_invoices_buyer", "buyer"),
    Index("ix_invoices_holder", "holder"),
    Index("ix_invoices_state", "state"),
    Index("ix_invoices_currency", "currency"),
    Index("ix_invoices_due_date", "due_date"),
    Index("ix_invoices_shipment_id", "shipment_id"),
    Index("ix_invoices_order_id", "order_id"),
    Index("ix_invoices_root_id", "root_id"),
)

invoice_payments = Table(
    "invoice_payments", metadata,
    *log_columns(),
    Column("invoice_id", Uint256(), nullable=False),
    Column("payer", String(42), nullable=False),
    Column("holder", String(42), nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("paid_total", Uint256(), nullable=False),
    Column("payment_ref", String(66), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_invoice_payments_invoice_id", "invoice_id"),
    Index("ix_invoice_payments_payer", "payer"),
    Index("ix_invoice_payments_holder", "holder"),
)

#: Parts left out of a maturity payment over a split invoice because their holder is sanctioned.
invoice_withholdings = Table(
    "invoice_withholdings", metadata,
    *log_columns(),
    Column("root_id", Uint256(), nullable=False),
    Column("invoice_id", Uint256(), nullable=False),
    Column("holder", String(42), nullable=False),
    Column("open_amount", Uint256(), nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_invoice_withholdings_invoice_id", "invoice_id"),
    Index("ix_invoice_withholdings_holder", "holder"),
)

purchase_orders = Table(
    "purchase_orders", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("buyer", String(42), nullable=False),
    Column("supplier", String(42), nullable=False),
    Column("holder", String(42)),
    Column("state", String(10), nullable=False),
    Column("order_number", String(64), nullable=False),
    Column("goods", Text, nullable=False),
    Column("quantity", Uint256(), nullable=False),
    Column("unit", Text, nullable=False),
    Column("amount", Uint256(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("delivery_date", BigInteger, nullable=False),
    Column("shipment_id", String(66)),
    Column("document_hash", String(66), nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("fingerprint", String(66), nullable=False),
    Column("escrow", String(42)),
    Column("invoice_id", Uint256()),
    Column("cancel_reason", Text),
    Column("issued_block", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_purchase_orders_buyer", "buyer"),
    Index("ix_purchase_orders_supplier", "supplier"),
    Index("ix_purchase_orders_holder", "holder"),
    Index("ix_purchase_orders_state", "state"),
    Index("ix_purchase_orders_currency", "currency"),
    Index("ix_purchase_orders_delivery_date", "delivery_date"),
    Index("ix_purchase_orders_shipment_id", "shipment_id"),
)

receipts = Table(
    "receipts", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("warehouse", String(42), nullable=False),
    Column("depositor", String(42), nullable=False),
    Column("holder", String(42)),
    Column("pledgee", String(42)),
    Column("pledge_enforceable_after", BigInteger),
    Column("pledge_count", Integer, nullable=False),
    Column("commodity", Text, nullable=False),
    Column("quantity", Uint256(), nullable=False),
    Column("unit", Text, nullable=False),
    Column("grade", Text, nullable=False),
    Column("location", String(5), nullable=False),
    Column("insured_value", Uint256(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expiry", BigInteger, nullable=False),
    Column("redemption_requested", Boolean, nullable=False),
    Column("redeemed", Boolean, nullable=False),
    Column("document_hash", String(66), nullable=False),
    Column("document_cid", Text, nullable=False),
    Column("issued_block", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
    Index("ix_receipts_warehouse", "warehouse"),
    Index("ix_receipts_depositor", "depositor"),
    Index("ix_receipts_holder", "holder"),
    Index("ix_receipts_pledgee", "pledgee"),
    Index("ix_receipts_currency", "currency"),
    Index("ix_receipts_expiry", "expiry"),
)

receipt_pledges = Table(
    "receipt_pledges", metadata,
    Column("receipt_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("holder", String(42), nullable=False),
    Column("pledgee", String(42), nullable=False),
    Column("enforceable_after", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("enforced_to", String(42)),
    Column("pledged_block", BigInteger, nullable=False),
    Column("ended_block", BigInteger),
    Index("ix_receipt_pledges_pledgee", "pledgee"),
)

TABLES = (invoices, invoice_payments, invoice_withholdings, purchase_orders, receipts, receipt_pledges)

#: Statuses of a ``receipt_pledges`` row.
PLEDGE_ACTIVE, PLEDGE_RELEASED, PLEDGE_ENFORCED = "Active", "Released", "Enforced"

handlers = Handlers()
INVOICES, ORDERS, RECEIPTS = "InvoiceToken", "PurchaseOrder", "WarehouseReceipt"


def _set(ctx: ProjectionContext, table: Table, ev: IndexedEvent, ident: int, **changes: Any) -> None:
    ctx.update(table, {"id": ident}, {**changes, "updated_block": ev.block_number})


def _holder_moved(table: Table):
    def on_transfer(ctx: ProjectionContext, ev: IndexedEvent) -> None:
        """A transfer between holders (mints and burns come with the event that makes or ends the
        row). Positional: Solady names the token `id`, OpenZeppelin `tokenId`."""
        src, dst, token_id = ev.args.values()
        if src != ZERO_ADDRESS and dst != ZERO_ADDRESS:
            _set(ctx, table, ev, token_id, holder=dst)

    return on_transfer


for _kind, _table in ((INVOICES, invoices), (ORDERS, purchase_orders), (RECEIPTS, receipts)):
    handlers.on(_kind, "Transfer")(_holder_moved(_table))


# ---------------------------------------------------------------------------- invoices


@handlers.on(INVOICES, "InvoiceIssued")
def invoice_issued(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a, t = ev.args, ev.args["terms"]
    order_id = t["orderId"] or None
    ctx.insert(invoices, {
        "id": a["id"], "seller": a["seller"], "buyer": a["buyer"], "holder": a["seller"],
        "state": InvoiceState.ISSUED.label, "invoice_number": t["invoiceNumber"], "currency": code(t["currency"]),
        "face_value": t["faceValue"], "issue_date": t["issueDate"], "due_date": t["dueDate"],
        "document_hash": hex_bytes(t["documentHash"]), "document_cid": t["documentCid"],
        "shipment_id": opt_hash(t["shipmentId"]), "order_id": order_id, "parent_id": None, "root_id": a["id"],
        "part_index": None, "financier": None, "settled_by": None, "cancelled_by": None, "cancel_reason": None,
        "paid_total": 0, "issued_block": ev.block_number, "issued_at": ev.block_timestamp,
        "updated_block": ev.block_number})
    if order_id is not None:
        _set(ctx, purchase_orders, ev, order_id, invoice_id=a["id"])


def _invoice_state(state: InvoiceState, actor: str | None = None, column: str | None = None):
    def on_event(ctx: ProjectionContext, ev: IndexedEvent) -> None:
        changes: dict[str, Any] = {"state": state.label}
        if column is not None:
            changes[column] = ev.args[actor]
        _set(ctx, invoices, ev, ev.args["id"], **changes)

    return on_event


handlers.on(INVOICES, "InvoiceConfirmed")(_invoice_state(InvoiceState.CONFIRMED))
handlers.on(INVOICES, "InvoiceFinanced")(_invoice_state(InvoiceState.FINANCED, "financier", "financier"))
handlers.on(INVOICES, "InvoicePaid")(_invoice_state(InvoiceState.PAID, "settler", "settled_by"))
handlers.on(INVOICES, "InvoiceDefaulted")(_invoice_state(InvoiceState.DEFAULTED, "settler", "settled_by"))


@handlers.on(INVOICES, "InvoiceCancelled")
def invoice_cancelled(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set(ctx, invoices, ev, ev.args["id"], state=InvoiceState.CANCELLED.label, cancelled_by=ev.args["by"],
         cancel_reason=ev.args["reason"])


@handlers.on(INVOICES, "InvoiceSplit")
def invoice_split(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """The parts are minted to the parent's holder and keep its terms (the burn and mint
    Transfers came before this event and were skipped)."""
    a = ev.args
    parent = ctx.get(invoices, {"id": a["parentId"]})
    _set(ctx, invoices, ev, a["parentId"], state=InvoiceState.SPLIT.label, holder=None)
    for index, (child_id, face) in enumerate(zip(a["childIds"], a["faceValues"])):
        ctx.insert(invoices, {
            **parent, "id": child_id, "face_value": face, "state": InvoiceState.CONFIRMED.label,
            "parent_id": a["parentId"], "root_id": a["rootId"], "part_index": index, "financier": None,
            "settled_by": None, "cancelled_by": None, "cancel_reason": None, "paid_total": 0,
            "issued_block": ev.block_number, "issued_at": ev.block_timestamp, "updated_block": ev.block_number})


@handlers.on(INVOICES, "ShipmentBound")
def shipment_bound(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set(ctx, invoices, ev, ev.args["id"], shipment_id=hex_bytes(ev.args["shipmentId"]))


@handlers.on(INVOICES, "SettlementSet")
def settlement_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    set_setting(ctx, ev, "invoice_token.settlement", ev.args["settlement"])


@handlers.on("InvoiceSettlement", "InvoicePayment")
def invoice_payment(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(invoice_payments, {
        **log_key(ev), "invoice_id": a["id"], "payer": a["payer"], "holder": a["holder"], "amount": a["amount"],
        "paid_total": a["paidTotal"], "payment_ref": hex_bytes(a["paymentRef"]), "tx_hash": ev.tx_hash,
        "timestamp": ev.block_timestamp})
    _set(ctx, invoices, ev, a["id"], paid_total=a["paidTotal"])


@handlers.on("InvoiceSettlement", "PartWithheld")
def part_withheld(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    ctx.insert(invoice_withholdings, {
        **log_key(ev), "root_id": a["rootId"], "invoice_id": a["id"], "holder": a["holder"], "open_amount": a["open"],
        "tx_hash": ev.tx_hash, "timestamp": ev.block_timestamp})


# ---------------------------------------------------------------------------- purchase orders


@handlers.on(ORDERS, "OrderIssued")
def order_issued(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a, t = ev.args, ev.args["terms"]
    ctx.insert(purchase_orders, {
        "id": a["id"], "buyer": a["buyer"], "supplier": a["supplier"], "holder": a["supplier"],
        "state": OrderState.ISSUED.label, "order_number": t["orderNumber"], "goods": t["goods"],
        "quantity": t["quantity"], "unit": t["unit"], "amount": t["amount"], "currency": code(t["currency"]),
        "delivery_date": t["deliveryDate"], "shipment_id": opt_hash(t["shipmentId"]),
        "document_hash": hex_bytes(t["documentHash"]), "document_cid": t["documentCid"],
        "fingerprint": hex_bytes(a["fingerprint"]), "escrow": None, "invoice_id": None, "cancel_reason": None,
        "issued_block": ev.block_number, "issued_at": ev.block_timestamp, "updated_block": ev.block_number})


def _order_state(state: OrderState):
    def on_event(ctx: ProjectionContext, ev: IndexedEvent) -> None:
        _set(ctx, purchase_orders, ev, ev.args["id"], state=state.label, escrow=ev.args["escrow"])

    return on_event


handlers.on(ORDERS, "OrderFinanced")(_order_state(OrderState.FINANCED))
handlers.on(ORDERS, "OrderClosed")(_order_state(OrderState.CLOSED))
handlers.on(ORDERS, "OrderDefaulted")(_order_state(OrderState.DEFAULTED))


@handlers.on(ORDERS, "InvoicesSet")
def order_invoices_set(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    set_setting(ctx, ev, "purchase_orders.invoices", ev.args["invoices"])


@handlers.on(ORDERS, "OrderCancelled")
def order_cancelled(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set(ctx, purchase_orders, ev, ev.args["id"], state=OrderState.CANCELLED.label, cancel_reason=ev.args["reason"])


# ---------------------------------------------------------------------------- warehouse receipts


@handlers.on(RECEIPTS, "ReceiptIssued")
def receipt_issued(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a, t = ev.args, ev.args["terms"]
    ctx.insert(receipts, {
        "id": a["id"], "warehouse": a["warehouse"], "depositor": a["depositor"], "holder": a["depositor"],
        "pledgee": None, "pledge_enforceable_after": None, "pledge_count": 0, "commodity": t["commodity"],
        "quantity": t["quantity"], "unit": t["unit"], "grade": t["grade"], "location": code(t["location"]),
        "insured_value": t["insuredValue"], "currency": code(t["currency"]), "expiry": t["expiry"],
        "redemption_requested": False, "redeemed": False, "document_hash": hex_bytes(t["documentHash"]),
        "document_cid": t["documentCid"], "issued_block": ev.block_number, "issued_at": ev.block_timestamp,
        "updated_block": ev.block_number})


@handlers.on(RECEIPTS, "ReceiptPledgedTo")
def receipt_pledged(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    a = ev.args
    seq = ctx.get(receipts, {"id": a["id"]})["pledge_count"] + 1
    _set(ctx, receipts, ev, a["id"], pledgee=a["pledgee"], pledge_enforceable_after=a["enforceableAfter"],
         pledge_count=seq)
    ctx.insert(receipt_pledges, {
        "receipt_id": a["id"], "seq": seq, "holder": a["holder"], "pledgee": a["pledgee"],
        "enforceable_after": a["enforceableAfter"], "status": PLEDGE_ACTIVE, "enforced_to": None,
        "pledged_block": ev.block_number, "ended_block": None})


def _end_pledge(ctx: ProjectionContext, ev: IndexedEvent, status: str, **pledge: Any) -> None:
    receipt_id = ev.args["id"]
    seq = ctx.get(receipts, {"id": receipt_id})["pledge_count"]
    _set(ctx, receipts, ev, receipt_id, pledgee=None, pledge_enforceable_after=None)
    ctx.update(receipt_pledges, {"receipt_id": receipt_id, "seq": seq},
               {"status": status, "ended_block": ev.block_number, **pledge})


@handlers.on(RECEIPTS, "PledgeReleased")
def pledge_released(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _end_pledge(ctx, ev, PLEDGE_RELEASED)


@handlers.on(RECEIPTS, "PledgeEnforced")
def pledge_enforced(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    """The receipt's move to `to` follows as a Transfer."""
    _end_pledge(ctx, ev, PLEDGE_ENFORCED, enforced_to=ev.args["to"])


@handlers.on(RECEIPTS, "RedemptionRequested")
def receipt_redemption_requested(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set(ctx, receipts, ev, ev.args["id"], redemption_requested=True)


@handlers.on(RECEIPTS, "ReceiptRedeemed")
def receipt_redeemed(ctx: ProjectionContext, ev: IndexedEvent) -> None:
    _set(ctx, receipts, ev, ev.args["id"], redeemed=True, holder=None)


__all__ = ["TABLES", "handlers", *(t.name for t in TABLES)]
