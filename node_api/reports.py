"""Reports computed from the read model: exposure, overdue rate, daily fund-flow reconciliation.

Sums are done in Python over exact integers (the read model stores uint256 as text on SQLite).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from chain.indexer.projections import deals, erc20_transfers, invoices
from chain.indexer.schema import blocks
from chain.vocabulary import DealState, InvoiceState

OUTSTANDING = tuple(s.label for s in (InvoiceState.ISSUED, InvoiceState.CONFIRMED, InvoiceState.FINANCED))
#: The clock each report uses (every answer says it).
CHAIN_CLOCK = "chain"


def financed_exposure(db: Engine, by: str) -> dict[tuple[str, str], int]:
    """Advances outstanding (principal of funded deals) per (`by`: "obligor" (the borrower when a
    deal has none), or "lender"; currency)."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    with db.connect() as c:
        funded = select(deals.c.obligor, deals.c.borrower, deals.c.lender, deals.c.currency, deals.c.principal).where(
            deals.c.state == DealState.FUNDED.label)
        for r in c.execute(funded):
            who = (r.obligor or r.borrower) if by == "obligor" else r.lender
            out[(who, r.currency)] += r.principal
    return dict(out)


@dataclass(frozen=True)
class OverdueReport:
    as_of: int
    outstanding_count: int
    overdue_count: int
    outstanding: dict[str, int]  # currency -> face value outstanding
    overdue: dict[str, int]  # currency -> face value overdue

    @property
    def overdue_rate_bps(self) -> int:
        """Overdue invoices as basis points of outstanding invoices (by count)."""
        return 0 if not self.outstanding_count else self.overdue_count * 10_000 // self.outstanding_count


def overdue(db: Engine, as_of: int, lender: str | None = None) -> OverdueReport:
    """Outstanding and overdue invoices of the network, or (`lender`) of the invoices that
    lender's own deals finance."""
    outstanding: dict[str, int] = defaultdict(int)
    late: dict[str, int] = defaultdict(int)
    n = n_late = 0
    q = (select(invoices.c.currency, invoices.c.face_value, invoices.c.due_date)
         .where(invoices.c.state.in_(OUTSTANDING)))
    if lender is not None:
        q = q.where(invoices.c.id.in_(select(deals.c.collateral_id).where(deals.c.lender == lender)))
    with db.connect() as c:
        for r in c.execute(q):
            n += 1
            outstanding[r.currency] += r.face_value
            if r.due_date < as_of:
                n_late += 1
                late[r.currency] += r.face_value
    return OverdueReport(as_of, n, n_late, dict(outstanding), dict(late))


@dataclass(frozen=True)
class ReconciliationRow:
    token: str
    account: str
    opening: int
    inflow: int
    outflow: int
    closing: int
    chain_balance: int | None

    @property
    def matches(self) -> bool:
        return self.chain_balance is None or self.chain_balance == self.closing


def day_bounds(day: dt.date) -> tuple[int, int]:
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
    return start, start + 86_400


def reconciliation(db: Engine, day: dt.date, balance_at: Any = None) -> tuple[int | None, list[ReconciliationRow]]:
    """Every token movement of `day` (UTC), summed per account: opening + in - out = closing.

    `balance_at(token, account, block)` reads the chain balance at the last indexed block of the
    day; each row then says whether the read model equals the chain."""
    start, end = day_bounds(day)
    opening: dict[tuple[str, str], int] = defaultdict(int)
    inflow: dict[tuple[str, str], int] = defaultdict(int)
    outflow: dict[tuple[str, str], int] = defaultdict(int)
    zero = "0x0000000000000000000000000000000000000000"
    with db.connect() as c:
        last_block = c.execute(select(blocks.c.number).where(blocks.c.timestamp < end)
                               .order_by(blocks.c.number.desc()).limit(1)).scalar()
        for r in c.execute(select(erc20_transfers).where(erc20_transfers.c.timestamp < end)):
            sender, receiver = (r.token, r.from_address), (r.token, r.to_address)
            if r.timestamp >= start:  # the day's movements
                if r.from_address != zero:
                    outflow[sender] += r.value
                if r.to_address != zero:
                    inflow[receiver] += r.value
            else:  # everything before the day makes the opening balance
                if r.from_address != zero:
                    opening[sender] -= r.value
                if r.to_address != zero:
                    opening[receiver] += r.value
    keys = sorted(set(inflow) | set(outflow) | {k for k, v in opening.items() if v})
    rows = []
    for token, account in keys:
        o, i, out = opening[(token, account)], inflow[(token, account)], outflow[(token, account)]
        chain = balance_at(token, account, last_block) if balance_at and last_block is not None else None
        rows.append(ReconciliationRow(token, account, o, i, out, o + i - out, chain))
    return last_block, rows
