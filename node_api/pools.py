"""ABS pools (issue 11 items 4, 5): what the node computes for the pool manager and investors.

- the tape's Merkle root, recomputed by the node from the pool's asset records on chain (the
  leaf and node hashing of ``chain.clients.pools``), so the manager publishes a root anybody can
  recompute;
- the document hash a bid must name (the invoice's anchored hash, from the read model);
- pool reports from the read model (``chain.indexer.projections.pools``): outstanding balance,
  collections, defaults and losses by tranche (losses hit the junior tranche first), coverage
  ratios, concentration by obligor, expected vs actual collections per month (UTC months of the
  assets' due dates and of the collections' block times: chain time);
- the investor's verification: ``chain.abs_verify.verify_pool`` over RPC and the document store,
  never the read model.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from chain.abs_verify import verify_pool
from chain.clients.pools import merkle_root
from chain.indexer.projections import abs_pools, invoices, pool_assets, pool_collections, pool_distributions, \
    tranche_holdings
from chain.vocabulary import BPS

from .context import NodeContext
from .errors import InvalidInput, NotFound
from .read_model import ReadModel
from .readable import Reader, bps_text, iso


def tape_root(ctx: NodeContext, pool_id: int) -> bytes:
    """The Merkle root of the pool's asset records as the chain holds them."""
    pools = ctx.clients().pools
    n = pools.pool(pool_id).asset_count
    assets = []
    for start in range(0, n, 400):
        assets += pools.assets(pool_id, start, 400)
    if not assets:
        raise InvalidInput("pool_id", f"pool {pool_id} has no assets: nothing to issue")
    return merkle_root([a.leaf for a in assets])


def bid_document_hash(ctx: NodeContext, deal_id: int) -> bytes:
    """The document hash the pool checks for a deal's invoice (the root invoice's anchored one)."""
    from chain.indexer.projections import deals

    rm = ReadModel(ctx.db)
    deal = rm.one(deals, deals.c.deal_id == deal_id)
    if deal is None:
        raise InvalidInput("deal_id", f"no deal {deal_id} in the read model")
    inv = rm.one(invoices, invoices.c.id == deal["collateral_id"])
    if inv is None:
        raise InvalidInput("deal_id", f"deal {deal_id} does not finance an invoice")
    return bytes.fromhex(inv["document_hash"][2:])


def pool_row(ctx: NodeContext, pool_id: int) -> dict[str, Any]:
    row = ReadModel(ctx.db).one(abs_pools, abs_pools.c.pool_id == pool_id)
    if row is None:
        raise NotFound("pool", pool_id)
    return row


AMOUNTS = ("senior_size", "junior_size", "expected", "purchase_price", "collected", "losses", "undistributed",
           "senior_interest_paid", "senior_principal_paid", "junior_paid", "paid_out", "senior_sold", "junior_sold")


def pool_out(row: dict[str, Any], r: Reader) -> dict[str, Any]:
    out = r.row(row, parties=("manager",), times=("created_at", "issued_at", "closed_at"))
    for k in AMOUNTS:
        out[k] = r.money(row[k], row["currency"])
    out["senior_coupon"] = bps_text(row["senior_coupon_bps"])
    out["obligor_cap"] = bps_text(row["obligor_cap_bps"])
    out["max_tenor_days"] = row["max_tenor"] // 86_400
    return out


def asset_out(row: dict[str, Any], r: Reader) -> dict[str, Any]:
    out = r.row(row, parties=("seller", "obligor"), times=("due_date", "pooled_at", "closed_at"))
    for k in ("price", "face_value", "expected", "recovered", "loss"):
        out[k] = r.money(row[k], row["currency"])
    out["invoice_id"] = str(row["invoice_id"])
    return out


def _month(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m")


def _ratio(num: int, den: int) -> dict[str, Any] | None:
    if den <= 0:
        return None
    bps = num * BPS // den
    return {"bps": bps, "display": f"{bps // 100}.{bps % 100:02d}%", "times": f"{bps // BPS}.{bps % BPS:04d}"}


def report(ctx: NodeContext, pool_id: int, r: Reader, now: int) -> dict[str, Any]:
    """The pool's report (see the module notes); amounts in the pool currency."""
    rm = ReadModel(ctx.db)
    p = pool_row(ctx, pool_id)
    cur = p["currency"]
    assets = rm.all(pool_assets, pool_assets.c.pool_id == pool_id, order=[pool_assets.c.idx])
    collections = rm.all(pool_collections, pool_collections.c.pool_id == pool_id,
                         order=[pool_collections.c.block_number, pool_collections.c.log_index])
    distributions = rm.all(pool_distributions, pool_distributions.c.pool_id == pool_id)
    active = [a for a in assets if a["status"] == "Active"]
    outstanding = sum(a["expected"] - a["recovered"] for a in active)
    senior_out = p["senior_size"] - p["senior_principal_paid"]
    junior_loss = min(p["losses"], p["junior_size"])
    senior_loss = p["losses"] - junior_loss
    interest_due = p["senior_size"] * p["senior_coupon_bps"] // BPS
    notes_out = senior_out + max(p["junior_size"] - junior_loss, 0)
    by_obligor: dict[str, dict[str, Any]] = {}
    for a in assets:
        o = by_obligor.setdefault(a["obligor_lei"] or a["obligor"] or "?", {
            "obligor_lei": a["obligor_lei"], "obligor": a["obligor"], "obligor_name": r.name(a["obligor"]),
            "assets": 0, "expected": 0, "outstanding": 0})
        o["assets"] += 1
        o["expected"] += a["expected"]
        if a["status"] == "Active":
            o["outstanding"] += a["expected"] - a["recovered"]
    total_expected = p["expected"] or 1
    concentration = sorted(({**o, "share": _ratio(o["expected"], total_expected),
                             "cap": bps_text(p["obligor_cap_bps"]), "expected": r.money(o["expected"], cur),
                             "outstanding": r.money(o["outstanding"], cur)} for o in by_obligor.values()),
                           key=lambda o: -(o["share"] or {"bps": 0})["bps"])
    months: dict[str, dict[str, int]] = defaultdict(lambda: {"expected": 0, "actual": 0})
    for a in assets:
        months[_month(a["due_date"])]["expected"] += a["expected"]
    for c in collections:
        months[_month(c["timestamp"])]["actual"] += c["amount"]
    statuses = defaultdict(int)
    for a in assets:
        statuses[a["status"]] += 1
    return {
        "pool_id": pool_id, "name": p["name"], "state": p["state"], "currency": cur,
        "assets": len(assets), "assets_by_status": dict(statuses),
        "outstanding_balance": r.money(outstanding, cur), "expected_total": r.money(p["expected"], cur),
        "purchase_price": r.money(p["purchase_price"], cur), "collections": r.money(p["collected"], cur),
        "collections_count": len(collections), "undistributed": r.money(p["undistributed"], cur),
        "distributions": len(distributions),
        "defaults": {"assets": statuses.get("Defaulted", 0), "losses": r.money(p["losses"], cur)},
        "tranches": {
            "senior": {"size": r.money(p["senior_size"], cur), "sold": r.money(p["senior_sold"], cur),
                       "coupon": bps_text(p["senior_coupon_bps"]),
                       "interest_due": r.money(interest_due, cur),
                       "interest_paid": r.money(p["senior_interest_paid"], cur),
                       "principal_paid": r.money(p["senior_principal_paid"], cur),
                       "outstanding": r.money(senior_out, cur), "losses": r.money(senior_loss, cur),
                       "coverage": _ratio(outstanding + p["undistributed"], senior_out)},
            "junior": {"size": r.money(p["junior_size"], cur), "sold": r.money(p["junior_sold"], cur),
                       "paid": r.money(p["junior_paid"], cur), "losses": r.money(junior_loss, cur),
                       "loss_share": _ratio(junior_loss, p["junior_size"])}},
        "coverage": {"collateral_over_notes": _ratio(outstanding + p["undistributed"], notes_out),
                     "collateral_over_senior": _ratio(outstanding + p["undistributed"], senior_out)},
        "concentration": concentration,
        "collections_by_month": [{"month": m, "expected": r.money(v["expected"], cur),
                                  "actual": r.money(v["actual"], cur)} for m, v in sorted(months.items())],
        "clock": "chain (months of due dates and of the collections' block times, UTC)",
        "as_of": now, "as_of_iso": iso(now)}


def holdings(ctx: NodeContext, pool_id: int, holder: str, r: Reader) -> list[dict[str, Any]]:
    """The holder's notes of each tranche and what it can claim now (chain)."""
    p = pool_row(ctx, pool_id)
    pools = ctx.clients().pools
    rows = {x["tranche"]: x for x in ReadModel(ctx.db).all(tranche_holdings, tranche_holdings.c.holder == holder,
                                                             tranche_holdings.c.pool_id == pool_id)}
    out = []
    for seniority, tranche in (("Senior", p["senior_tranche"]), ("Junior", p["junior_tranche"])):
        notes = rows.get(tranche, {}).get("balance", 0)
        out.append({"tranche": seniority.lower(), "token": tranche, "notes": r.money(notes, p["currency"]),
                    "claimable": r.money(pools.claimable(tranche, holder), p["currency"])})
    return out


def verification(ctx: NodeContext, pool_id: int) -> dict[str, Any]:
    """``verify_pool`` over RPC and this node's document store (not the read model)."""
    pools = ctx.clients().pools
    from chain import errors

    try:
        pools.pool(pool_id)
    except errors.UnknownPool:
        raise NotFound("pool", pool_id) from None
    store = ctx.documents.store

    def fetch(cid: str) -> bytes | None:
        return store.get(cid) if store.has(cid) else None

    result = verify_pool(ctx.chain, ctx.deployment, pool_id, fetch_document=fetch)
    out = result.as_dict()
    for k in ("chain_read_seconds", "compute_seconds", "document_seconds"):
        out[k.replace("_seconds", "_ms")] = int(out.pop(k) * 1000)
    out["table"] = result.table()
    out["source"] = "chain state over JSON-RPC and the document store (not the node's read model)"
    return out


__all__ = ["asset_out", "bid_document_hash", "holdings", "pool_out", "pool_row", "report", "tape_root",
           "verification"]
