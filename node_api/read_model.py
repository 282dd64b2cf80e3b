"""Queries over the indexer's read model, with each participant's visibility rules.

Visibility (SPEC 5): a participant sees the objects it is party to; an AUDITOR sees everything,
read-only. Objects outside a caller's view answer 404, not 403, so their existence does not leak.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Table, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement

from chain.contracts import Role
from chain.indexer.projections.erc20 import erc20_balances, erc20_transfers
from chain.indexer.projections.tradenet import invoices, participants, proposals, receipts
from chain.indexer.schema import checkpoint

from .context import Caller


def _true() -> ColumnElement[bool]:
    from sqlalchemy import true

    return true()


def invoice_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return _true()
    me = caller.address
    return or_(invoices.c.seller == me, invoices.c.buyer == me, invoices.c.holder == me, invoices.c.financier == me)


def receipt_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return _true()
    me = caller.address
    return or_(receipts.c.warehouse == me, receipts.c.holder == me, receipts.c.pledgee == me,
               receipts.c.depositor == me)


def transfer_scope(caller: Caller) -> ColumnElement[bool]:
    if caller.has(Role.AUDITOR):
        return _true()
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

    def all(self, table: Table, *where: ColumnElement[bool]) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(select(table).where(*where)).mappings()]

    def indexed_block(self) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(func.max(checkpoint.c.block_number))).scalar()


__all__ = ["ReadModel", "invoice_scope", "receipt_scope", "transfer_scope", "invoices", "receipts", "participants",
           "proposals", "erc20_balances", "erc20_transfers"]
