"""Shipment events confirmed by the logistics oracle, shipment timelines, and FX rates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from chain.clients import shipment_id
from chain.indexer.projections import deal_milestones, deals, fx_rates, oracle_events, oracle_quorums
from chain.vocabulary import RATE_DECIMALS, Role

from ..deal_views import milestone_out, rate_text
from ..deps import CallerDep, Ctx
from ..errors import NotFound
from ..models import JsonObject, Page, Text, readable_model
from ..openapi import READ_ONE
from ..read_model import deal_scope
from ..readable import Reader, event_name, iso, place
from .common import PagingDep, ReaderDep, page_out, read_model

OracleEventOut = readable_model("OracleEventOut", "A shipment event confirmed by the oracle quorum.", {
    "event_id": str, "shipment_id": str, "transport_document": (str | None, None), "event_code": str,
    "event_name": (str | None, None), "location": str, "location_name": (str | None, None), "event_time": int,
    "evidence_hash": str, "submitter": str, "signers": list[str], "status": str, "confirmed_block": int,
    "confirmed_at": int, "tx_hash": str, "retracted": bool, "retracted_block": (int | None, None),
    "retracted_at": (int | None, None), "signed_by_me": (bool | None, None)},
    parties=("submitter",), times=("event_time", "confirmed_at", "retracted_at"))


class OracleEventPage(Page):
    items: list[OracleEventOut]  # type: ignore[valid-type]


class TimelineOut(BaseModel):
    transport_document: str
    shipment_id: str
    events: list[OracleEventOut]  # type: ignore[valid-type]
    deals: list[JsonObject] = Field(description="the deals waiting on this shipment, with their milestones")


class FxRateOut(BaseModel):
    base_currency: str
    quote_currency: str
    observed_at: int
    observed_at_iso: str | None
    rate: str = Field(description="decimal text (8 decimals kept exactly)")
    rate_minor: str = Field(description="the stored integer (rate x 10^8)")
    display: str
    age_seconds: int
    fresh: bool = Field(description="within the FX store's staleness window at chain time")
    digest: str
    submitter: str
    signers: list[str]
    block_number: int


class FxRatesOut(BaseModel):
    rate_decimals: int
    staleness_window: int | None
    clock: str
    as_of: int
    as_of_iso: str | None
    rates: list[FxRateOut]


router = APIRouter(tags=["logistics oracle"])


def event_out(e: dict[str, Any], r: Reader) -> dict[str, Any]:
    out = r.row(e, parties=("submitter",), times=("event_time", "confirmed_at", "retracted_at"))
    out.update(event_name=event_name(e["event_code"]), location_name=place(e["location"]),
               transport_document=r.reference(e["shipment_id"]), retracted=e["retracted_block"] is not None)
    return out


@router.get("/oracle/events", response_model=OracleEventPage)
def list_oracle_events(ctx: Ctx, caller: CallerDep, p: PagingDep, r: ReaderDep, signed_by_me: bool = False) -> dict:
    """Confirmed shipment events. Oracle operators see which ones carry their signature."""
    caller.require(Role.ORACLE, Role.LOGISTICS, Role.AUDITOR)
    rows, _ = read_model(ctx).page(oracle_events, [], [oracle_events.c.confirmed_block.desc()], 10_000, 0)
    items = [dict(event_out(x, r), signed_by_me=caller.address in x["signers"]) for x in rows]
    if signed_by_me:
        items = [i for i in items if i["signed_by_me"]]
    return page_out(items[p.offset:p.offset + p.limit], len(items), p)


@router.get("/shipments/{transport_document}", response_model=TimelineOut, responses=READ_ONE)
def shipment_timeline(transport_document: Annotated[Text, Path(min_length=1, max_length=100)], ctx: Ctx,
                      caller: CallerDep, r: ReaderDep) -> dict:
    """Confirmed events of a shipment (by B/L number) and the deals whose milestones wait on it:
    which event released what, when, in which block. Visible to logistics, oracle operators,
    auditors and the parties of a deal on the shipment."""
    ship = "0x" + shipment_id(transport_document).hex()
    rm = read_model(ctx)
    where = [deals.c.shipment_id == ship]
    if not caller.has(Role.LOGISTICS, Role.ORACLE, Role.AUDITOR):
        where.append(deal_scope(caller))
    on_shipment = rm.all(deals, *where, order=[deals.c.deal_id])
    if not on_shipment and not caller.has(Role.LOGISTICS, Role.ORACLE, Role.AUDITOR):
        raise NotFound("shipment", transport_document)
    ctx.remember(bytes.fromhex(ship[2:]), transport_document)
    r.references[ship] = transport_document
    events = sorted(rm.all(oracle_events, oracle_events.c.shipment_id == ship), key=lambda e: e["event_time"])
    out_deals = []
    for d in on_shipment:
        ms = rm.all(deal_milestones, deal_milestones.c.deal_id == d["deal_id"], order=[deal_milestones.c.idx])
        out_deals.append({"deal_id": d["deal_id"], "product": d["product"], "state": d["state"],
                          "borrower": d["borrower"], "borrower_name": r.name(d["borrower"]),
                          "lender": d["lender"], "lender_name": r.name(d["lender"]),
                          "milestones": [milestone_out(m, r, d["currency"]) for m in ms]})
    return {"transport_document": transport_document, "shipment_id": ship,
            "events": [event_out(e, r) for e in events], "deals": out_deals}


@router.get("/fx-rates", response_model=FxRatesOut)
def latest_fx_rates(ctx: Ctx, caller: CallerDep,
                    base: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None) -> dict:
    """Latest quorum-signed rate per currency pair, with its age and freshness at chain time."""
    now = ctx.chain_time()
    with ctx.db.connect() as c:
        latest = (select(fx_rates.c.base_currency, fx_rates.c.quote_currency,
                         func.max(fx_rates.c.observed_at).label("observed_at"))
                  .group_by(fx_rates.c.base_currency, fx_rates.c.quote_currency).subquery())
        q = select(fx_rates).join(latest, (fx_rates.c.base_currency == latest.c.base_currency)
                                  & (fx_rates.c.quote_currency == latest.c.quote_currency)
                                  & (fx_rates.c.observed_at == latest.c.observed_at))
        if base:
            q = q.where(fx_rates.c.base_currency == base)
        rows = [dict(x) for x in c.execute(q).mappings()]
        window = c.execute(select(oracle_quorums.c.staleness_window)
                           .where(oracle_quorums.c.address == ctx.deployment.fx_rate_store)).scalar()
    rates = [{**x, "rate": rate_text(x["rate"]), "rate_minor": str(x["rate"]), "observed_at_iso": iso(x["observed_at"]),
              "display": f"1 {x['base_currency']} = {rate_text(x['rate'])} {x['quote_currency']}",
              "age_seconds": now - x["observed_at"], "fresh": window is not None and now - x["observed_at"] <= window}
             for x in rows]
    return {"rate_decimals": RATE_DECIMALS, "staleness_window": window, "clock": "chain", "as_of": now,
            "as_of_iso": iso(now), "rates": rates}
