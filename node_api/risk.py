"""Risk views (issue 10 items 2, 4, 5): a lender's policy and limits against its exposure, the
network's heat map and warnings feed, and each participant's credit profile.

Everything is computed from chain facts: the read model's risk tables (``risk_*``: what the
``RiskRules`` contract emitted), the deals, the FX feed's observations, and chain time (the clock
every rule uses; every answer says so in ``clock``). Parties of the rules are legal entities (an
LEI, or a contract's address): ``node_api.readable.Reader.entity`` names them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import select

from chain.indexer.projections import (
    deals,
    fx_rates,
    oracle_quorums,
    participants,
    risk_lenders,
    risk_pairs,
    risk_parties,
    risk_warnings,
)
from chain.vocabulary import BPS

from .context import NodeContext
from .read_model import ReadModel
from .readable import Reader, bps_text, iso

LIVE = ("Accepted", "Funded")
#: A rate older than this share of the staleness window is "going stale" (the rules' 80% warning level).
AGING_BPS = 8_000


def utilisation(used: int, limit: int) -> dict[str, Any] | None:
    if not limit:
        return None
    bps = used * BPS // limit
    return {"bps": bps, "display": bps_text(bps)}


def entity_of(ctx: NodeContext, address: str) -> str | None:
    """The rules' key of a member (its LEI as bytes20), from the read model."""
    with ctx.db.connect() as c:
        return c.execute(select(participants.c.entity_key).where(participants.c.account == address)).scalar()


def policy(ctx: NodeContext, lender: str, r: Reader) -> dict[str, Any]:
    """A lender organisation's policy and limits: the book from the chain (``RiskRules``), the
    limits per obligor with their exposure from the read model."""
    rules = ctx.clients().risk
    book = rules.lender_book(lender)
    currency = book.currency or None
    key = entity_of(ctx, lender)
    rows = ReadModel(ctx.db).all(risk_pairs, risk_pairs.c.lender == key, order=[risk_pairs.c.obligor]) if key else []
    limits = []
    cur = currency or rules.network_currency()
    for p in rows:
        limits.append({
            "obligor": r.entity(p["obligor"]), "limited": p["limited"],
            "limit": r.money(p["limit_amount"], cur) if p["limited"] else None,
            "exposure": r.money(p["exposure"], cur),
            "utilisation": utilisation(p["exposure"], p["limit_amount"]) if p["limited"] else None,
            "headroom": r.money(max(p["limit_amount"] - p["exposure"], 0), cur) if p["limited"] else None,
            "limit_set_by": p["limit_set_by"]})
    cap = book.cap_bps
    base = rules.capital_base(lender)
    return {"lender": lender, "lender_name": r.name(lender), "entity": r.entity(key),
            "currency": currency, "policy_set": bool(currency), "cap_bps": cap,
            "cap": bps_text(cap) if cap else None,
            "capital_base": r.money(base, currency) if currency else None, "capital_base_minor": base,
            "review_threshold": r.money(book.review_threshold, currency) if currency else None,
            "book_exposure": r.money(book.exposure, currency or rules.network_currency()), "limits": limits,
            "network_currency": rules.network_currency(),
            "network_review_threshold": r.money(rules.network_review_threshold(), rules.network_currency())}


def portfolio(ctx: NodeContext, lender: str, r: Reader, now: int) -> dict[str, Any]:
    """A lender's book: outstanding principal by obligor and currency, fees due, overdue deals,
    its limits against exposure and concentration per obligor (vs its cap)."""
    rows = ReadModel(ctx.db).all(deals, deals.c.lender == lender)
    outstanding: dict[tuple[str, str], int] = defaultdict(int)
    fees: dict[str, int] = defaultdict(int)
    overdue, by_state = [], defaultdict(int)
    for d in rows:
        by_state[d["state"]] += 1
        if d["state"] == "Funded":
            outstanding[(d["obligor"] or d["borrower"], d["currency"])] += d["principal"]
            fees[d["currency"]] += d["fee"]
            if now > d["maturity"]:
                overdue.append({"deal_id": d["deal_id"], "maturity": d["maturity"], "maturity_iso": iso(d["maturity"]),
                                "days_late": (now - d["maturity"]) // 86_400, "obligor": d["obligor"],
                                "obligor_name": r.name(d["obligor"]), "owed": r.money(d["principal"] + d["fee"],
                                                                                       d["currency"])})
    pol = policy(ctx, lender, r)
    # the contract's measure: the larger of the book and the capital base
    book_total = max(sum(v for (_, c), v in outstanding.items() if c == pol["currency"]), pol["capital_base_minor"])
    concentration = []
    for (obligor, cur), v in sorted(outstanding.items()):
        share = v * BPS // book_total if book_total and cur == pol["currency"] else None
        concentration.append({"obligor": obligor, "obligor_name": r.name(obligor), "obligor_lei": r.lei(obligor),
                              "outstanding": r.money(v, cur),
                              "share_of_book": None if share is None else {"bps": share, "display": bps_text(share)},
                              "cap": pol["cap"], "over_cap": bool(share is not None and pol["cap_bps"]
                                                                  and share > pol["cap_bps"])})
    return {"lender": lender, "lender_name": r.name(lender), "deals": len(rows), "deals_by_state": dict(by_state),
            "by_obligor": concentration, "fees_due": [r.money(v, c) for c, v in sorted(fees.items())],
            "overdue_deals": overdue, "policy": pol, "limits": pol["limits"],
            "warnings": warnings(ctx, r, now, lender_key=pol["entity"]["entity_key"]),
            "clock": "chain", "as_of": now, "as_of_iso": iso(now)}


def heatmap(ctx: NodeContext, r: Reader, now: int) -> dict[str, Any]:
    """Obligor x lender exposure and utilisation (each pair's limit), with the network limits."""
    rm = ReadModel(ctx.db)
    books = {b["lender"]: b for b in rm.all(risk_lenders)}
    network = ctx.clients().risk.network_currency()
    cells = []
    for p in rm.all(risk_pairs, order=[risk_pairs.c.obligor, risk_pairs.c.lender]):
        cur = (books.get(p["lender"]) or {}).get("currency") or network
        cells.append({"lender": r.entity(p["lender"]), "obligor": r.entity(p["obligor"]),
                      "exposure": r.money(p["exposure"], cur),
                      "limit": r.money(p["limit_amount"], cur) if p["limited"] else None,
                      "utilisation": utilisation(p["exposure"], p["limit_amount"]) if p["limited"] else None})
    parties = []
    rules = ctx.clients().risk
    for p in rm.all(risk_parties, order=[risk_parties.c.party]):
        entity = r.entity(p["party"])
        live = None
        accounts = entity["accounts"]
        if accounts:
            live = rules.party(accounts[0])
        parties.append({"party": entity, "frozen": p["frozen"], "overdue_run": p["overdue_run"],
                        "network_limit": r.money(p["network_limit"], network) if p["network_limited"] else None,
                        "network_exposure": None if live is None else r.money(live.network_exposure, network),
                        "utilisation": utilisation(live.network_exposure, p["network_limit"])
                        if live is not None and p["network_limited"] else None})
    lenders = sorted({c["lender"]["entity_key"] for c in cells})
    obligors = sorted({c["obligor"]["entity_key"] for c in cells})
    return {"lenders": [r.entity(k) for k in lenders], "obligors": [r.entity(k) for k in obligors], "cells": cells,
            "parties": parties, "network_currency": network, "clock": "chain", "as_of": now, "as_of_iso": iso(now)}


def warnings(ctx: NodeContext, r: Reader, now: int, lender_key: str | None = None) -> list[dict[str, Any]]:
    """The early-warning feed: the rules' warnings (80% of a limit or cap), deals past maturity
    unpaid, freezes, and FX rates going stale while live deals depend on them (read model
    against chain time). With `lender_key`, only what concerns that lender."""
    rm = ReadModel(ctx.db)
    out: list[dict[str, Any]] = []
    books = {b["lender"]: b for b in rm.all(risk_lenders)}
    network = ctx.clients().risk.network_currency()
    for w in rm.all(risk_warnings, order=[risk_warnings.c.block_number, risk_warnings.c.log_index]):
        if lender_key and w["lender"] != lender_key:
            continue
        cur = None if w["kind"] == 2 else ((books.get(w["lender"]) or {}).get("currency") or network)
        used = {"bps": w["used"], "display": bps_text(w["used"])} if w["kind"] == 2 else r.money(w["used"], cur)
        limit = ({"bps": w["limit_amount"], "display": bps_text(w["limit_amount"])} if w["kind"] == 2
                 else r.money(w["limit_amount"], cur))
        what = {1: "exposure passed 80% of the limit", 2: "concentration passed 80% of the cap",
                3: "network exposure passed 80% of the network limit"}.get(w["kind"], w["kind_label"])
        out.append({"kind": w["kind_label"], "message": f"{r.entity_name(w['obligor'])}: {what} "
                                                        f"({_shown(used)} of {_shown(limit)})",
                    "lender": r.entity(w["lender"]), "obligor": r.entity(w["obligor"]), "used": used,
                    "limit": limit, "deal_id": w["deal_id"], "block_number": w["block_number"],
                    "timestamp": w["timestamp"], "timestamp_iso": iso(w["timestamp"])})
    lender_accounts = set(r.entity(lender_key)["accounts"]) if lender_key else None
    for d in rm.all(deals, deals.c.state == "Funded", order=[deals.c.maturity]):
        if now <= d["maturity"] or (lender_accounts is not None and d["lender"] not in lender_accounts):
            continue
        out.append({"kind": "DealOverdue", "deal_id": d["deal_id"],
                    "message": f"deal {d['deal_id']} passed maturity {iso(d['maturity'])} unpaid "
                               f"({(now - d['maturity']) // 86_400} days; "
                               f"{'counted as overdue' if d['overdue_counted'] else 'grace running'})",
                    "lender": r.entity(entity_of(ctx, d["lender"])), "obligor": r.entity(entity_of(ctx, d["obligor"]))
                    if d["obligor"] else None, "used": None, "limit": None, "block_number": d["updated_block"],
                    "timestamp": d["maturity"], "timestamp_iso": iso(d["maturity"])})
    if lender_key is None:
        for p in rm.all(risk_parties, risk_parties.c.frozen.is_(True)):
            out.append({"kind": "Frozen", "deal_id": None, "message": f"{r.entity_name(p['party'])} is frozen after "
                                                                     f"{p['overdue_run']} overdue deals in a row",
                        "lender": None, "obligor": r.entity(p["party"]), "used": None, "limit": None,
                        "block_number": p["frozen_block"], "timestamp": None, "timestamp_iso": None})
    out += fx_staleness(ctx, now, lender_accounts)
    return out


def _shown(v: Any) -> str:
    return v["display"] if isinstance(v, dict) else str(v)


def fx_staleness(ctx: NodeContext, now: int, lenders: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """FX pairs that live deals depend on (a cross-currency deal's lock, or a deal whose currency
    differs from its lender's book: the rules convert at the feed's rate) whose latest rate is
    older than 80% of the staleness window (``FxRateAging``) or than the window (``FxRateStale``:
    new deals depending on it are refused), against chain time."""
    rm = ReadModel(ctx.db)
    window_row = rm.one(oracle_quorums, oracle_quorums.c.address == ctx.deployment.fx_rate_store)
    window = window_row["staleness_window"] if window_row else 0
    if not window:
        return []
    books = {b["lender"]: b["currency"] for b in rm.all(risk_lenders)}
    keys = {p["account"]: p["entity_key"] for p in rm.all(participants)}
    dependents: dict[tuple[str, str], list[int]] = defaultdict(list)
    wanted = set(lenders) if lenders is not None else None
    for d in rm.all(deals, deals.c.state.in_(LIVE)):
        if wanted is not None and d["lender"] not in wanted:
            continue
        if d["obligation_currency"] and d["currency"] and d["obligation_currency"] != d["currency"]:
            dependents[(d["obligation_currency"], d["currency"])].append(d["deal_id"])
        book = books.get(keys.get(d["lender"]))
        if book and d["currency"] and book != d["currency"]:
            dependents[(d["currency"], book)].append(d["deal_id"])
    out = []
    for (base, quote), ids in sorted(dependents.items()):
        latest = _latest_rate(ctx, base, quote)
        observed = latest["observed_at"] if latest else None
        age = None if observed is None else now - observed
        if age is not None and age * BPS < window * AGING_BPS:
            continue
        kind = "FxRateStale" if age is None or age > window else "FxRateAging"
        what = "no rate published" if age is None else (f"the latest rate is {age // 3600} h old "
                                                        f"(staleness window {window // 3600} h)")
        out.append({"kind": kind, "deal_id": None, "pair": f"{base}/{quote}", "deal_ids": sorted(set(ids)),
                    "message": f"{base}/{quote}: {what}; {len(set(ids))} live deal(s) depend on it"
                               + ("; new deals depending on it are refused" if kind == "FxRateStale" else ""),
                    "lender": None, "obligor": None, "used": None, "limit": None, "observed_at": observed,
                    "observed_at_iso": iso(observed), "age_seconds": age, "staleness_window": window,
                    "block_number": latest["block_number"] if latest else None, "timestamp": now,
                    "timestamp_iso": iso(now)})
    return out


def _latest_rate(ctx: NodeContext, base: str, quote: str) -> dict[str, Any] | None:
    with ctx.db.connect() as c:
        row = c.execute(select(fx_rates).where(fx_rates.c.base_currency == base, fx_rates.c.quote_currency == quote)
                        .order_by(fx_rates.c.observed_at.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def credit_profile(ctx: NodeContext, address: str, r: Reader, now: int) -> dict[str, Any]:
    """A participant's record as borrower and as obligor, from on-chain history only: deals repaid
    on time, late (after maturity) and defaulted, their amounts, the average days late, the
    current overdue run (and freeze), and volume per counterparty."""
    rm = ReadModel(ctx.db)
    key = entity_of(ctx, address)
    accounts = r.entity(key)["accounts"] if key else [address]
    party = rm.one(risk_parties, risk_parties.c.party == key) if key else None
    roles = {}
    for role, column, counter in (("borrower", deals.c.borrower, "lender"), ("obligor", deals.c.obligor, "lender")):
        rows = rm.all(deals, column.in_(accounts))
        roles[role] = _record(rows, r, now, counter)
    return {"account": address, "name": r.name(address), "lei": r.lei(address), "entity": r.entity(key),
            "accounts": accounts, "as_borrower": roles["borrower"], "as_obligor": roles["obligor"],
            "overdue_run": party["overdue_run"] if party else 0, "frozen": bool(party and party["frozen"]),
            "source": "on-chain history (deal engine and risk rules events)", "clock": "chain", "as_of": now,
            "as_of_iso": iso(now)}


def outcome(d: dict[str, Any]) -> str:
    """How a deal ended: repaid (a repayment or a documentary settlement), defaulted, cancelled,
    or open."""
    if d["state"] in LIVE:
        return "open"
    if d["state"] == "Cancelled":
        return "cancelled"
    if d["amount_due"] is not None:
        return "repaid"
    if d["unreleased_returned"] is not None:
        return "defaulted"
    return "repaid"  # settled (self-liquidating)


def _hundredths(n: int) -> str:
    """Exact decimal text of n / 100 (no float)."""
    return f"{n // 100}.{n % 100:02d}"


def _record(rows: list[dict[str, Any]], r: Reader, now: int, counter: str) -> dict[str, Any]:
    counts = {"on_time": 0, "late": 0, "defaulted": 0, "open": 0, "overdue_now": 0, "cancelled": 0}
    amounts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    days_late: list[int] = []
    volume: dict[tuple[str, str], int] = defaultdict(int)
    for d in rows:
        o = outcome(d)
        cur = d["currency"]
        if o == "repaid":
            late = d["settled_at"] is not None and d["settled_at"] > d["maturity"]
            counts["late" if late else "on_time"] += 1
            amounts["late" if late else "on_time"][cur] += d["principal"]
            if late:
                days_late.append((d["settled_at"] - d["maturity"] + 86_399) // 86_400)
        elif o == "defaulted":
            counts["defaulted"] += 1
            amounts["defaulted"][cur] += d["principal"]
        elif o == "open":
            counts["open"] += 1
            if d["state"] == "Funded" and now > d["maturity"]:
                counts["overdue_now"] += 1
        else:
            counts["cancelled"] += 1
        if o != "cancelled":
            volume[(d[counter], cur)] += d["principal"]
    return {"deals": len(rows), "counts": counts,
            "amounts": {k: [r.money(v, c) for c, v in sorted(m.items())] for k, m in amounts.items()},
            "average_days_late": _hundredths(sum(days_late) * 100 // len(days_late)) if days_late else "0",
            "volume_by_counterparty": [{"counterparty": cp, "counterparty_name": r.name(cp),
                                        "counterparty_lei": r.lei(cp), "volume": r.money(v, c)}
                                       for (cp, c), v in sorted(volume.items())]}


__all__ = ["credit_profile", "fx_staleness", "heatmap", "outcome", "policy", "portfolio", "warnings"]
