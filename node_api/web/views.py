"""What each dashboard page shows, read through the node API's own functions (the route functions
and ``node_api.risk`` / ``node_api.pools``): the same visibility rules, role checks and readable
answers as the JSON API, without HTTP to itself. Each function returns the template's data.

Chart data is built here (labels and numbers) so that what a chart draws is what the server read."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from chain.indexer.projections import erc20_transfers, fx_rates, oracle_events
from chain.indexer.schema import events as raw_events
from chain.vocabulary import RATE_DECIMALS, Role

from ..context import Caller, NodeContext
from ..deal_views import rate_text
from ..read_model import ReadModel, transfer_scope
from ..readable import Reader, event_name, iso, place
from ..routes import accounts, auth, deals, invoices, oracle, orders, pools, receipts, risk, treasury
from ..routes.common import Paging

ZERO = "0x0000000000000000000000000000000000000000"


def _all(ctx: NodeContext) -> Paging:
    """One page as large as the node allows: the dashboard shows a participant's whole book."""
    return Paging(limit=ctx.settings.page_size_max, offset=0)


def stream_cursor(ctx: NodeContext) -> str:
    """``<block>:<logIndex>`` of the last indexed event: the live stream starts after it."""
    with ctx.db.connect() as c:
        row = c.execute(select(raw_events.c.block_number, raw_events.c.log_index)
                        .order_by(raw_events.c.block_number.desc(), raw_events.c.log_index.desc()).limit(1)).first()
    return f"{row[0]}:{row[1]}" if row else "0:0"


def contract_names(ctx: NodeContext) -> dict[str, str]:
    """The network's own contracts that take a party's place (a pool buys a lender's side)."""
    d = ctx.deployment
    names = {d.deal_engine: "Deal engine (contract)", d.abs_pools: "ABS pools (contract)"}
    names.update({a: f"{p.title} module (contract)" for p, a in d.product_modules.items()})
    names[d.invoice_settlement] = "Invoice settlement (contract)"
    return {a.lower(): n for a, n in names.items() if a}


# ---------------------------------------------------------------------------- overview


def overview(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    one = Paging(limit=1, offset=0)
    counts = {"deals": deals.list_deals(ctx, caller, one, r, ctx.chain_time())["total"],
              "invoices": invoices.list_invoices(ctx, caller, one, r)["total"],
              "purchase orders": orders.list_orders(ctx, caller, one, r)["total"],
              "warehouse receipts": receipts.list_receipts(ctx, caller, one, r)["total"]}
    named = contract_names(ctx)

    def name(address: str) -> str | None:
        return r.name(address) or named.get(address.lower()) or ("minted or burned" if address == ZERO else None)

    transfers = accounts.transfers(caller.address, ctx, caller, Paging(limit=10, offset=0))["items"]
    return {"me": auth.me(ctx, caller), "name": r.name(caller.address),
            "balances": accounts.balances(caller.address, ctx, caller)["balances"], "counts": counts,
            "transfers": [dict(t, from_name=name(t["from"]), to_name=name(t["to"]), time_iso=iso(t["timestamp"]))
                          for t in transfers]}


# ---------------------------------------------------------------------------- deals


def deal_list(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    return {"deals": deals.list_deals(ctx, caller, _all(ctx), r, ctx.chain_time())["items"]}


def deal_page(ctx: NodeContext, caller: Caller, r: Reader, deal_id: int) -> dict[str, Any]:
    deal = deals.get_deal(deal_id, ctx, caller, r)
    return {"deal": deal, "timeline": timeline(ctx, deal, r)}


def timeline(ctx: NodeContext, deal: dict[str, Any], r: Reader) -> list[dict[str, Any]]:
    """The shipment as the deal saw it: funding (with the advances it released), each confirmed
    event of the shipment with the milestones it released (amount, block), and what still waits."""
    ms = deal["milestones"]
    entries: list[dict[str, Any]] = []
    if deal.get("funded_at"):
        entries.append({"kind": "funded", "title": "Funded by the lender", "time": deal["funded_at"],
                        "time_iso": deal["funded_at_iso"], "block": deal["funded_block"], "place": None,
                        "releases": [m for m in ms if m["event_code"] == "" and m["released_block"] is not None]})
    shipment = deal.get("shipment_id")
    if shipment and int(shipment, 16):
        rows = ReadModel(ctx.db).all(oracle_events, oracle_events.c.shipment_id == shipment,
                                     order=[oracle_events.c.event_time])
        for e in rows:
            entries.append({"kind": "retracted" if e["retracted_block"] is not None else "event",
                            "title": event_name(e["event_code"]), "code": e["event_code"],
                            "time": e["event_time"], "time_iso": iso(e["event_time"]),
                            "confirmed_iso": iso(e["confirmed_at"]), "block": e["confirmed_block"],
                            "tx_hash": e["tx_hash"], "place": place(e["location"]),
                            "retracted_iso": iso(e["retracted_at"]),
                            "releases": [m for m in ms if m["event_id"] == e["event_id"]],
                            "contests": [m for m in ms if m["contested_event_id"] == e["event_id"]]})
    waiting = [m for m in ms if m["status"] == "Pending"]
    if waiting:
        entries.append({"kind": "waiting", "title": "Waiting for", "time": None, "time_iso": None, "block": None,
                        "place": None, "releases": waiting})
    return entries


# ---------------------------------------------------------------------------- collateral


def documents(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    p = _all(ctx)
    named = contract_names(ctx)
    held = receipts.list_receipts(ctx, caller, p, r)["items"]
    for x in held:  # a receipt pledged to a deal is held by the product module
        if x["pledgee"] and not x["pledgee_name"]:
            x["pledgee_name"] = named.get(x["pledgee"].lower())
    return {"invoices": invoices.list_invoices(ctx, caller, p, r)["items"],
            "orders": orders.list_orders(ctx, caller, p, r)["items"], "receipts": held}


# ---------------------------------------------------------------------------- lender and risk


def portfolio(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    book = risk.portfolio(ctx, caller, r)
    return {"book": book, "warnings": book["warnings"]}


def risk_page(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    heat = risk.heatmap(ctx, caller, r)
    named = contract_names(ctx)
    for e in [*heat["lenders"], *heat["obligors"], *(c[k] for c in heat["cells"] for k in ("lender", "obligor"))]:
        if not e["legal_name"] and e["entity_key"]:
            e["legal_name"] = named.get(e["entity_key"].lower())
    cells = {(c["obligor"]["entity_key"], c["lender"]["entity_key"]): c for c in heat["cells"]}
    rows = [{"obligor": o, "cells": [cells.get((o["entity_key"], lender["entity_key"])) for lender in heat["lenders"]]}
            for o in heat["obligors"]]
    return {"heat": heat, "rows": rows, "warnings": risk.warnings(ctx, caller, r)["items"]}


def heat_class(cell: dict[str, Any] | None) -> str:
    """The colour band of a heat-map cell by utilisation of the pair's limit."""
    if not cell or not cell["utilisation"]:
        return "heat-none"
    bps = cell["utilisation"]["bps"]
    return "heat-" + ("4" if bps >= 10_000 else "3" if bps >= 8_000 else "2" if bps >= 5_000 else "1")


# ---------------------------------------------------------------------------- money over time


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d")


def _major(minor: int, digits: int) -> float:
    return minor / 10**digits


def fund_flows(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    """Settlement-token movements per UTC day (chain time) and currency: what came in and went
    out of the caller's account; for an auditor, the network's transfers, mints and burns."""
    currency_of = ctx.deployment.currency_by_token
    network = caller.has(Role.AUDITOR)
    rows = ReadModel(ctx.db).all(erc20_transfers, transfer_scope(caller), order=[erc20_transfers.c.block_number])
    sums: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for t in rows:
        cur = currency_of.get(t["token"])
        if cur is None:
            continue
        day = sums[cur][_day(t["timestamp"])]
        if network:
            kind = "minted" if t["from_address"] == ZERO else "burned" if t["to_address"] == ZERO else "transferred"
            day[kind] += t["value"]
        else:
            if t["to_address"] == caller.address:
                day["in"] += t["value"]
            if t["from_address"] == caller.address:
                day["out"] += t["value"]
    series = ("transferred", "minted", "burned") if network else ("in", "out")
    charts = []
    for cur, days in sorted(sums.items()):
        digits = r.decimals.get(cur, 2)
        labels = sorted(days)
        charts.append({
            "id": f"flows-{cur}", "currency": cur,
            "rows": [{"day": d, **{k: r.money(days[d][k], cur) for k in series}} for d in labels],
            "chart": {"type": "bar", "data": {"labels": labels, "datasets": [
                {"label": f"{k} ({cur})", "data": [_major(days[d][k], digits) for d in labels]} for k in series]}}})
    return {"charts": charts, "series": series, "scope": "network" if network else "own account"}


def fx(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    """Every quorum-signed rate per pair over time (the read model), and the latest with freshness."""
    latest = oracle.latest_fx_rates(ctx, caller, None)
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for x in ReadModel(ctx.db).all(fx_rates, order=[fx_rates.c.observed_at]):
        pairs[(x["base_currency"], x["quote_currency"])].append(x)
    charts = []
    for (base, quote), xs in sorted(pairs.items()):
        labels = [iso(x["observed_at"]) for x in xs]
        charts.append({
            "id": f"fx-{base}{quote}", "pair": f"{base}/{quote}",
            "rows": [{"observed_at": x["observed_at"], "observed_at_iso": iso(x["observed_at"]),
                      "rate": rate_text(x["rate"]), "block": x["block_number"]} for x in xs],
            "chart": {"type": "line", "data": {"labels": labels, "datasets": [
                {"label": f"1 {base} in {quote}", "data": [x["rate"] / 10**RATE_DECIMALS for x in xs]}]}}})
    return {"latest": latest, "charts": charts}


# ---------------------------------------------------------------------------- treasury and pools


def treasury_page(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    movements = treasury.movements(ctx, caller, Paging(limit=50, offset=0), r)  # TREASURY or AUDITOR
    return {"currencies": treasury.currencies(ctx, caller, r), "movements": movements["items"],
            "redemptions": treasury.list_redemptions(ctx, caller, _all(ctx), r, None)["items"]}


def pool_list(ctx: NodeContext, caller: Caller, r: Reader) -> dict[str, Any]:
    return {"pools": pools.list_pools(ctx, caller, _all(ctx), r)["items"]}


def pool_page(ctx: NodeContext, caller: Caller, r: Reader, pool_id: int) -> dict[str, Any]:
    pool = pools.get_pool(pool_id, ctx, caller, r)
    report = pools.pool_report(pool_id, ctx, caller, r)
    verification = pools.verify(pool_id, ctx, caller)  # INVESTOR, LENDER or AUDITOR
    return {"pool": pool, "report": report, "verification": verification}


__all__ = ["deal_list", "deal_page", "documents", "fund_flows", "fx", "heat_class", "overview", "pool_list",
           "pool_page", "portfolio", "risk_page", "stream_cursor", "timeline", "treasury_page"]
