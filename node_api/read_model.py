"""Queries over the indexer's read model, with each participant's visibility rules.

Visibility (SPEC 5): a participant sees the objects it is party to; an AUDITOR sees everything,
read-only. Objects outside a caller's view answer 404, not 403, so their existence does not leak.

- invoices: seller, buyer, holder (a part's holder too), and a lender that finances it (a deal
  whose collateral it is, also after an order financing rolled into it) or was offered it (an
  offer stored by this node);
- purchase orders: buyer, supplier, holder, and lenders financing or offered it;
- warehouse receipts: warehouse, depositor, holder, pledgee, and lenders financing or offered it;
- deals: borrower, lender (current, and earlier lenders that assigned their side), obligor, and
  a documentary credit's applicant and presenter;
- pools: everyone but non-investors' details are the same for all members (a pool is a public
  offering to INVESTOR members): see ``node_api.pools``.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Table, func, or_, select, true
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from chain.indexer.projections import (
    deal_assignments,
    deals,
    documentary_credits,
    erc20_balances,
    erc20_transfers,
    invoices,
    order_rollovers,
    participants,
    proposals,
    purchase_orders,
    receipts,
)
from chain.indexer.schema import checkpoint
from chain.vocabulary import Product, Role

from .context import Caller
from .errors import NotFound
from .store import REVISION, offers


def _financed_or_offered(caller: Caller, *products: Product) -> tuple[Any, Any]:
    """Collateral ids of `products` the caller lends against (now or before it assigned its
    side) and those it was offered (as a lender), as subqueries."""
    labels = [p.label for p in products]
    me = caller.address
    assigned = select(deal_assignments.c.deal_id).where(deal_assignments.c.previous_lender == me)
    financed = select(deals.c.collateral_id).where(deals.c.product.in_(labels),
                                                   or_(deals.c.lender == me, deals.c.deal_id.in_(assigned)))
    offered = select(offers.c.collateral_id).where(offers.c.lender == me, offers.c.product.in_(labels))
    return financed.scalar_subquery(), offered.scalar_subquery()


def invoice_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return true()
    me = caller.address
    financed, offered = _financed_or_offered(caller, Product.RECEIVABLE, Product.ORDER)
    return or_(invoices.c.seller == me, invoices.c.buyer == me, invoices.c.holder == me,
               invoices.c.id.in_(financed), invoices.c.id.in_(offered))


def order_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return true()
    me = caller.address
    financed, offered = _financed_or_offered(caller, Product.ORDER)
    po = purchase_orders.c
    # a financed order rolled into its invoice: the deal's collateral is the invoice now
    rolled = select(order_rollovers.c.order_id).where(order_rollovers.c.deal_id.in_(
        select(deals.c.deal_id).where(deals.c.lender == me)))
    return or_(po.buyer == me, po.supplier == me, po.holder == me, po.id.in_(financed), po.id.in_(offered),
               po.id.in_(rolled.scalar_subquery()))


def receipt_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return true()
    me = caller.address
    financed, offered = _financed_or_offered(caller, Product.RECEIPT_PLEDGE)
    r = receipts.c
    return or_(r.warehouse == me, r.holder == me, r.pledgee == me, r.depositor == me, r.id.in_(financed),
               r.id.in_(offered))


def deal_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return true()
    me = caller.address
    d = deals.c
    return or_(d.borrower == me, d.lender == me, d.obligor == me,
               d.deal_id.in_(select(deal_assignments.c.deal_id).where(deal_assignments.c.previous_lender == me)
                             .scalar_subquery()),
               d.deal_id.in_(select(documentary_credits.c.deal_id).where(
                   or_(documentary_credits.c.applicant == me, documentary_credits.c.presenter == me))
                   .scalar_subquery()))


def transfer_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return true()
    return or_(erc20_transfers.c.from_address == caller.address, erc20_transfers.c.to_address == caller.address)


class ReadModel:
    def __init__(self, engine: Engine):
        self.engine = engine

    def page(self, table: Table, where: Iterable[ColumnElement[bool]], order: Iterable[Any], limit: int,
             offset: int) -> tuple[list[dict[str, Any]], int]:
        conds = list(where)
        with self.engine.connect() as c:
            total = c.execute(select(func.count()).select_from(table).where(*conds)).scalar_one()
            rows = c.execute(select(table).where(*conds).order_by(*order).limit(limit).offset(offset)).mappings()
            return [dict(r) for r in rows], total

    def one(self, table: Table, *where: ColumnElement[bool]) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(table).where(*where)).mappings().first()
            return dict(row) if row else None

    def visible(self, what: str, ident: Any, table: Table, *where: ColumnElement[bool]) -> dict[str, Any]:
        """The one row matching `where` (the caller's scope among it), else NotFound."""
        row = self.one(table, *where)
        if row is None:
            raise NotFound(what, ident)
        return row

    def all(self, table: Table, *where: ColumnElement[bool], order: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(select(table).where(*where).order_by(*order)).mappings()]

    def indexed_block(self) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(func.max(checkpoint.c.block_number))).scalar()

    def indexed_heads(self) -> tuple[tuple[str, int, str], ...]:
        """Each indexer's checkpoint (name, block, block hash): moves with every block applied
        and with every rollback, by whichever process indexes; last the node's own revision
        (``("node", revision, "")``: its offers, agreements and references, written by any of its
        processes, node_api.store)."""
        with self.engine.connect() as c:
            heads = tuple(tuple(r) for r in c.execute(_HEADS))
            return heads + (("node", c.execute(REVISION).scalar() or 0, ""),)


#: built once: it runs on every kept list answer's lookup (node_api.answers)
_HEADS = select(checkpoint.c.name, checkpoint.c.block_number, checkpoint.c.block_hash).order_by(checkpoint.c.name)

__all__ = ["ReadModel", "deal_scope", "invoice_scope", "order_scope", "receipt_scope", "transfer_scope",
           "invoices", "receipts", "participants", "proposals", "erc20_balances", "erc20_transfers", "deals",
           "purchase_orders"]
