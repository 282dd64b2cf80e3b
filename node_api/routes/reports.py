"""Reports: exposure by obligor and financier, overdue rate, daily fund-flow reconciliation."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from fastapi import APIRouter, Query

from chain.contracts import Role

from .. import reports
from ..deps import CallerDep, Ctx, require
from .common import money

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/exposure")
def exposure(ctx: Ctx, caller: CallerDep) -> dict:
    """Advances outstanding under funded deals. Auditors see the whole network; a buyer its own
    obligations; a lender its own book."""
    require(caller, Role.AUDITOR, Role.LENDER, Role.BUYER)
    everything = caller.has(Role.AUDITOR)
    by_obligor = [{"obligor": o, "exposure": money(v, c)} for (o, c), v in
                  sorted(reports.financed_exposure(ctx.db, "buyer").items()) if everything or o == caller.address]
    by_lender = [{"lender": f, "exposure": money(v, c)} for (f, c), v in
                 sorted(reports.financed_exposure(ctx.db, "lender").items()) if everything or f == caller.address]
    return {"by_obligor": by_obligor, "by_lender": by_lender}


@router.get("/overdue")
def overdue(ctx: Ctx, caller: CallerDep, as_of: Annotated[int | None, Query(ge=0, lt=2**63)] = None) -> dict:
    require(caller, Role.AUDITOR, Role.LENDER)
    r = reports.overdue(ctx.db, as_of if as_of is not None else int(time.time()))
    return {"as_of": r.as_of, "outstanding_count": r.outstanding_count, "overdue_count": r.overdue_count,
            "overdue_rate_bps": r.overdue_rate_bps,
            "outstanding": [money(v, c) for c, v in sorted(r.outstanding.items())],
            "overdue": [money(v, c) for c, v in sorted(r.overdue.items())]}


@router.get("/reconciliation")
def reconciliation(ctx: Ctx, caller: CallerDep, day: dt.date) -> dict:
    """Every token movement of the UTC day summed per account; each closing balance is checked
    against the chain's balance at the day's last indexed block."""
    require(caller, Role.AUDITOR, Role.TREASURY)
    cur = ctx.deployment.currency_by_token

    def balance_at(token: str, account: str, block: int) -> int:
        return ctx.deployment.token(ctx.chain, cur[token]).contract.functions.balanceOf(account).call(
            block_identifier=block)

    last_block, rows = reports.reconciliation(ctx.db, day, balance_at)
    items = [{"currency": cur.get(r.token, "???"), "account": r.account,
              "opening": str(r.opening), "inflow": str(r.inflow), "outflow": str(r.outflow),
              "closing": str(r.closing), "chain_balance": None if r.chain_balance is None else str(r.chain_balance),
              "matches": r.matches} for r in rows]
    return {"day": day.isoformat(), "block": last_block, "accounts": items,
            "all_match": all(i["matches"] for i in items)}
