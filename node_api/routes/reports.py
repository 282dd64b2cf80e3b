"""Reports: exposure by obligor and financier, overdue rate, daily fund-flow reconciliation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from chain.vocabulary import Role

from .. import reports
from ..deps import CallerDep, Ctx
from ..models import Money
from ..readable import iso
from .common import ReaderDep, read_model


class ObligorExposure(BaseModel):
    obligor: str
    obligor_name: str | None = None
    exposure: Money


class LenderExposure(BaseModel):
    lender: str
    lender_name: str | None = None
    exposure: Money


class ExposureOut(BaseModel):
    by_obligor: list[ObligorExposure]
    by_lender: list[LenderExposure]
    clock: str = Field(description="`chain`: the read model as of its indexed block")
    indexed_block: int | None


class OverdueOut(BaseModel):
    scope: str = Field(description="`network` (auditors) or `own_deals` (a lender: the invoices its deals finance)")
    clock: str = Field(description="`chain`: due dates are compared with chain time (or `as_of` if given)")
    as_of: int
    as_of_iso: str | None
    outstanding_count: int
    overdue_count: int
    overdue_rate_bps: int
    outstanding: list[Money]
    overdue: list[Money]


class ReconciliationRowOut(BaseModel):
    currency: str
    account: str
    opening: str
    inflow: str
    outflow: str
    closing: str
    chain_balance: str | None
    matches: bool


class ReconciliationOut(BaseModel):
    clock: str = Field(description="`chain`: the UTC day of the blocks' timestamps")
    day: str
    block: int | None
    accounts: list[ReconciliationRowOut]
    all_match: bool

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/exposure", response_model=ExposureOut)
def exposure(ctx: Ctx, caller: CallerDep, r: ReaderDep) -> dict:
    """Advances outstanding under funded deals. Auditors see the whole network; a buyer its own
    obligations; a lender its own book."""
    caller.require(Role.AUDITOR, Role.LENDER, Role.BUYER)
    everything = caller.has(Role.AUDITOR)
    by_obligor = [{"obligor": o, "obligor_name": r.name(o), "exposure": r.money(v, c)} for (o, c), v in
                  sorted(reports.financed_exposure(ctx.db, "obligor").items()) if everything or o == caller.address]
    by_lender = [{"lender": f, "lender_name": r.name(f), "exposure": r.money(v, c)} for (f, c), v in
                 sorted(reports.financed_exposure(ctx.db, "lender").items()) if everything or f == caller.address]
    return {"by_obligor": by_obligor, "by_lender": by_lender, "clock": reports.CHAIN_CLOCK,
            "indexed_block": read_model(ctx).indexed_block()}


@router.get("/overdue", response_model=OverdueOut)
def overdue(ctx: Ctx, caller: CallerDep, rd: ReaderDep,
            as_of: Annotated[int | None, Query(ge=0, lt=2**63)] = None) -> dict:
    """Overdue rate at chain time (or `as_of`): an auditor sees the network's book, a lender only
    the invoices its own deals finance."""
    caller.require(Role.AUDITOR, Role.LENDER)
    everything = caller.has(Role.AUDITOR)
    r = reports.overdue(ctx.db, as_of if as_of is not None else ctx.chain_time(),
                        lender=None if everything else caller.address)
    return {"scope": "network" if everything else "own_deals", "clock": reports.CHAIN_CLOCK, "as_of": r.as_of,
            "as_of_iso": iso(r.as_of), "outstanding_count": r.outstanding_count, "overdue_count": r.overdue_count,
            "overdue_rate_bps": r.overdue_rate_bps,
            "outstanding": [rd.money(v, c) for c, v in sorted(r.outstanding.items())],
            "overdue": [rd.money(v, c) for c, v in sorted(r.overdue.items())]}


@router.get("/reconciliation", response_model=ReconciliationOut)
def reconciliation(ctx: Ctx, caller: CallerDep, day: dt.date) -> dict:
    """Every token movement of the UTC day summed per account; each closing balance is checked
    against the chain's balance at the day's last indexed block."""
    caller.require(Role.AUDITOR, Role.TREASURY)
    cur = ctx.deployment.currency_by_token
    c = ctx.clients()

    def balance_at(token: str, account: str, block: int) -> int:
        return c.token_at(token).contract.functions.balanceOf(account).call(block_identifier=block)

    last_block, rows = reports.reconciliation(ctx.db, day, balance_at)
    items = [{"currency": cur.get(r.token, "???"), "account": r.account,
              "opening": str(r.opening), "inflow": str(r.inflow), "outflow": str(r.outflow),
              "closing": str(r.closing), "chain_balance": None if r.chain_balance is None else str(r.chain_balance),
              "matches": r.matches} for r in rows]
    return {"clock": reports.CHAIN_CLOCK, "day": day.isoformat(), "block": last_block, "accounts": items,
            "all_match": all(i["matches"] for i in items)}
