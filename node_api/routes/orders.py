"""Purchase orders (order financing, 订单融资): buyers issue them (issuing is the buyer's
confirmation) to a supplier, which holds them and may finance them; buyers cancel an order that
is neither financed nor closed. Rollover into the invoice is a deal action (``/deals``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from chain import errors
from chain.clients import OrderTerms, shipment_id
from chain.clients.tokens import NO_SHIPMENT
from chain.deployment import Clients
from chain.vocabulary import OrderState, Role

from ..answers import KEPT
from ..context import PartyOf
from ..deps import CallerDep, Ctx
from ..errors import InvalidInput
from ..models import Address, Amount, Hash32, MinorUnits, Money, Page, RequestModel, Text, TxOut, readable_model, \
    tx_out
from ..openapi import READ_ONE, WRITE, problems
from ..read_model import order_scope, purchase_orders
from ..readable import Reader
from .common import PagingDep, ReaderDep, SmallId, in_currency, page_out, read_model

router = APIRouter(prefix="/orders", tags=["purchase orders"])
STATES = OrderState.labels()


class OrderIn(RequestModel):
    supplier: Address
    order_number: Text = Field(min_length=1, max_length=64)
    goods: Text = Field(min_length=1, max_length=200)
    quantity: MinorUnits = Field(description="integer quantity in `unit`")
    unit: Text = Field(min_length=1, max_length=32)
    amount: Amount = Field(description="the order's price, in a currency the network settles in")
    delivery_date: int = Field(gt=0, lt=2**40, description="unix seconds")
    document_hash: Hash32
    document_cid: Text = Field(min_length=1, max_length=128)
    transport_document: Text | None = Field(default=None, min_length=1, max_length=100,
                                            description="the B/L number the goods will ship under (optional)")


class ReasonIn(RequestModel):
    reason: Text = Field(min_length=1, max_length=500)


class IssuedOut(TxOut):
    order_id: int


OrderOut = readable_model("OrderOut", "A purchase order token.", {
    "id": int, "buyer": str, "supplier": str, "holder": (str | None, None), "state": str, "order_number": str,
    "goods": str, "quantity": str, "unit": str, "amount": Money, "currency": str, "delivery_date": int,
    "shipment_id": (str | None, None), "transport_document": (str | None, None), "document_hash": str,
    "document_cid": str, "fingerprint": str, "escrow": (str | None, None), "invoice_id": (str | None, None),
    "cancel_reason": (str | None, None), "issued_block": int, "issued_at": int, "updated_block": int,
}, parties=("buyer", "supplier", "holder"), times=("delivery_date", "issued_at"))


class OrderPage(Page):
    items: list[OrderOut]  # type: ignore[valid-type]


def order_out(row: dict[str, Any], r: Reader) -> dict[str, Any]:
    out = r.row(row, parties=("buyer", "supplier", "holder"), times=("delivery_date", "issued_at"),
                amounts={"amount": "currency"})
    out["quantity"] = str(row["quantity"])
    out["invoice_id"] = None if row["invoice_id"] is None else str(row["invoice_id"])
    out["transport_document"] = r.reference(row["shipment_id"])
    return out


@router.get("", response_model=OrderPage, dependencies=[KEPT])
def list_orders(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep,
                state: Annotated[str | None, Query(pattern="^(" + "|".join(STATES) + ")$")] = None) -> dict:
    """Orders the caller issued (buyer), received (supplier), holds, finances or was offered."""
    where = [order_scope(caller)]
    if state:
        where.append(purchase_orders.c.state == state)
    rows, total = read_model(ctx).page(purchase_orders, where, [purchase_orders.c.id], p.limit, p.offset)
    return page_out([order_out(x, r) for x in rows], total, p)


@router.get("/{order_id}", response_model=OrderOut, responses=READ_ONE)
def get_order(order_id: SmallId, ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    return order_out(read_model(ctx).visible("purchase order", order_id, purchase_orders,
                                             purchase_orders.c.id == order_id, order_scope(caller)), r)


@router.post("", response_model=IssuedOut, status_code=201, responses=problems(409, 502))
def issue_order(body: OrderIn, ctx: Ctx, caller: CallerDep, request: Request) -> IssuedOut:
    """The buyer issues (and thereby confirms) an order to an active supplier."""
    client = ctx.act(caller, Role.BUYER).orders
    currency = body.amount.currency
    in_currency(request, currency)
    if currency not in ctx.deployment.settlement_tokens:
        raise InvalidInput("amount.currency", f"the network has no settlement token for {currency}")
    shipment = shipment_id(body.transport_document) if body.transport_document else NO_SHIPMENT
    if body.transport_document:
        ctx.remember(shipment, body.transport_document)
    oid = client.issue(OrderTerms(body.supplier, body.order_number, body.goods, body.quantity, body.unit,
                                  body.amount.minor, currency, body.delivery_date,
                                  bytes.fromhex(body.document_hash[2:]), body.document_cid, shipment))
    return IssuedOut(order_id=oid, **tx_out(client.last_receipt).model_dump())


def _party(order_id: int) -> PartyOf:
    def parties(c: Clients) -> tuple[str, str, str | None]:
        o = c.orders.order(order_id)
        return o.buyer, o.supplier, o.holder

    return PartyOf("purchase order", order_id, parties, errors.UnknownOrder)


@router.post("/{order_id}/cancel", response_model=TxOut, responses=WRITE)
def cancel_order(order_id: SmallId, body: ReasonIn, ctx: Ctx, caller: CallerDep) -> TxOut:
    """The buyer cancels an order that is neither financed nor closed."""
    return tx_out(ctx.act(caller, Role.BUYER, party=_party(order_id)).orders.cancel(order_id, body.reason))
