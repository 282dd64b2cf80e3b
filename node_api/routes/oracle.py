"""Shipment events confirmed by the logistics oracle, shipment timelines, and FX rates."""

from __future__ import annotations

from typing import Annotated

from eth_utils import keccak
from fastapi import APIRouter, Path, Query
from sqlalchemy import func, select

from chain.contracts import Role
from chain.indexer.projections.deals import deal_milestones, deals, fx_rates, oracle_events

from ..deps import CallerDep, Ctx, require
from ..problems import not_found
from .common import PagingDep, page_out, read_model

router = APIRouter(tags=["logistics oracle"])


@router.get("/oracle/events")
def list_oracle_events(ctx: Ctx, caller: CallerDep, p: PagingDep, signed_by_me: bool = False) -> dict:
    """Confirmed shipment events. Oracle operators see which ones carry their signature."""
    require(caller, Role.ORACLE, Role.LOGISTICS, Role.AUDITOR)
    rows, total = read_model(ctx).page(oracle_events, [], [oracle_events.c.confirmed_block.desc()], 10_000, 0)
    items = [dict(r, signed_by_me=caller.address in r["signers"]) for r in rows]
    if signed_by_me:
        items = [i for i in items if i["signed_by_me"]]
    return page_out(items[p.offset:p.offset + p.limit], len(items), p)


@router.get("/shipments/{transport_document}")
def shipment_timeline(transport_document: Annotated[str, Path(min_length=1, max_length=100)], ctx: Ctx,
                      caller: CallerDep) -> dict:
    """Confirmed events of a shipment and the deal milestones waiting on them. Visible to logistics,
    oracle operators, auditors and the parties of a deal financed against the shipment."""
    ship = "0x" + keccak(text=transport_document).hex()
    rm = read_model(ctx)
    milestones = rm.all(deal_milestones, deal_milestones.c.shipment_id == ship)
    if not caller.has(Role.LOGISTICS, Role.ORACLE, Role.AUDITOR):
        party_deals = {str(d["deal_id"]) for d in rm.all(deals, deals.c.deal_id.in_([m["deal_id"] for m in milestones]))
                       if caller.address in (d["borrower"], d["lender"], d["buyer"])}
        if not party_deals:
            raise not_found("shipment", transport_document)
        milestones = [m for m in milestones if str(m["deal_id"]) in party_deals]
    events = sorted(rm.all(oracle_events, oracle_events.c.shipment_id == ship), key=lambda e: e["event_time"])
    return {"transport_document": transport_document, "shipment_id": ship, "events": events,
            "milestones": [{**{k: v for k, v in m.items() if k != "amount"}, "deal_id": str(m["deal_id"]),
                            "amount": None if m["amount"] is None else str(m["amount"])} for m in milestones]}


@router.get("/fx-rates")
def latest_fx_rates(ctx: Ctx, caller: CallerDep,
                    base: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None) -> dict:
    """Latest quorum-signed rate per currency pair (integer with 8 decimals)."""
    with ctx.db.connect() as c:
        latest = (select(fx_rates.c.base_currency, fx_rates.c.quote_currency,
                         func.max(fx_rates.c.observed_at).label("observed_at"))
                  .group_by(fx_rates.c.base_currency, fx_rates.c.quote_currency).subquery())
        q = select(fx_rates).join(latest, (fx_rates.c.base_currency == latest.c.base_currency)
                                  & (fx_rates.c.quote_currency == latest.c.quote_currency)
                                  & (fx_rates.c.observed_at == latest.c.observed_at))
        if base:
            q = q.where(fx_rates.c.base_currency == base)
        rows = [dict(r) for r in c.execute(q).mappings()]
    return {"rate_decimals": 8, "rates": [{**r, "rate": str(r["rate"])} for r in rows]}
