"""Deals as people read them: one function from the read model's rows (deal, milestones,
credits, FX lock, documentary credit) to the answer of ``GET /deals/{id}``, reused by the
portfolio, offers and reports. Times are chain time (the clock every rule uses)."""

from __future__ import annotations

from typing import Any

from chain.indexer.projections import deal_credits, deal_fx_locks, deal_milestones, documentary_credits, \
    documentary_documents
from chain.vocabulary import RATE_DECIMALS, Product

from .read_model import ReadModel
from .readable import Reader, bps_text, document_type, event_name, iso, place

AMOUNTS = ("principal", "fee", "released", "amount_due", "to_lender", "to_borrower", "unreleased_returned",
           "overdue_owed")
PARTIES = ("borrower", "lender", "obligor", "payer", "submitter")
TIMES = ("maturity", "accept_by", "fx_valid_until", "accepted_at", "funded_at", "settled_at")
KIND = {"Receivable": "invoice", "Order": "purchase order", "ReceiptPledge": "warehouse receipt",
        "Documentary": "none"}


def rate_text(rate: int) -> str:
    whole, frac = divmod(int(rate), 10**RATE_DECIMALS)
    return f"{whole}.{frac:0{RATE_DECIMALS}d}".rstrip("0").rstrip(".") if frac else str(whole)


def deal_out(row: dict[str, Any], r: Reader, now: int, rm: ReadModel | None = None) -> dict[str, Any]:
    """A deal row made readable; with `rm`, its milestones, credits, FX lock and documentary credit."""
    cur = row["currency"]
    out = r.row(row, parties=PARTIES, times=TIMES, drop=("extra",))
    for k in AMOUNTS:
        out[k] = r.money(row[k], cur)
    out["obligation"] = r.money(row["obligation"], row["obligation_currency"]) if row["obligation"] else None
    out["collateral_id"] = str(row["collateral_id"])
    out["collateral_kind"] = KIND.get(row["product"], row["product"])
    try:
        out["product_title"] = Product.from_label(row["product"]).title
    except ValueError:
        out["product_title"] = row["product"]
    out["transport_document"] = r.reference(row["shipment_id"])
    out["defaultable_after"] = row["maturity"] + row["grace_period"]
    out["defaultable_after_iso"] = iso(out["defaultable_after"])
    live = row["state"] in ("Accepted", "Funded")
    out["overdue"] = row["state"] == "Funded" and now > row["maturity"]
    out["expired_offer"] = row["state"] == "Accepted" and now > row["accept_by"]
    out["outstanding"] = r.money(row["principal"] if row["state"] == "Funded" else 0, cur)
    out["clock"] = "chain"
    out["as_of"], out["as_of_iso"] = now, iso(now)
    out["live"] = live
    if rm is not None:
        out.update(deal_details(row, r, now, rm))
    return out


def milestone_out(m: dict[str, Any], r: Reader, currency: str) -> dict[str, Any]:
    return {"idx": m["idx"], "event_code": m["event_code"], "event_name": event_name(m["event_code"]),
            "location": m["location"], "location_name": place(m["location"]), "share_bps": m["share_bps"],
            "share": bps_text(m["share_bps"]), "amount": r.money(m["amount"], currency), "status": m["status"],
            "event_id": m["event_id"], "released_block": m["released_block"],
            "contested_event_id": m["contested_event_id"], "contested_block": m["contested_block"]}


def deal_details(row: dict[str, Any], r: Reader, now: int, rm: ReadModel) -> dict[str, Any]:
    deal_id, cur = row["deal_id"], row["currency"]
    ms = rm.all(deal_milestones, deal_milestones.c.deal_id == deal_id, order=[deal_milestones.c.idx])
    credits = rm.all(deal_credits, deal_credits.c.deal_id == deal_id, order=[deal_credits.c.account])
    out: dict[str, Any] = {
        "milestones": [milestone_out(m, r, cur) for m in ms],
        "credits": [{"account": c["account"], "account_name": r.name(c["account"]),
                     "credited": r.money(c["credited"], cur), "withdrawn": r.money(c["withdrawn"], cur),
                     "claimable": r.money(c["claimable"], cur)} for c in credits],
        "fx_lock": None, "credit": None}
    lock = rm.one(deal_fx_locks, deal_fx_locks.c.deal_id == deal_id)
    if lock:
        out["fx_lock"] = {
            "base_currency": lock["base_currency"], "quote_currency": lock["quote_currency"],
            "rate": rate_text(lock["rate"]), "rate_decimals": RATE_DECIMALS,
            "display": f"1 {lock['base_currency']} = {rate_text(lock['rate'])} {lock['quote_currency']}",
            "observed_at": lock["observed_at"], "observed_at_iso": iso(lock["observed_at"]),
            "valid_until": lock["valid_until"], "valid_until_iso": iso(lock["valid_until"]),
            "expired": now > lock["valid_until"]}
    credit = rm.one(documentary_credits, documentary_credits.c.deal_id == deal_id)
    if credit:
        docs = rm.all(documentary_documents, documentary_documents.c.deal_id == deal_id,
                      order=[documentary_documents.c.idx])
        out["credit"] = {
            "applicant": credit["applicant"], "applicant_name": r.name(credit["applicant"]),
            "presenter": credit["presenter"], "presenter_name": r.name(credit["presenter"]),
            "latest_shipment": credit["latest_shipment"], "latest_shipment_iso": iso(credit["latest_shipment"]),
            "expiry": row["maturity"], "expiry_iso": iso(row["maturity"]), "expired": now > row["maturity"],
            "required": credit["required"], "complying": credit["complying"], "waived": credit["waived"],
            "release_allowed": credit["waived"] or credit["complying"] == credit["required"],
            "documents": [{"doc_type": d["doc_type"], "name": document_type(d["doc_type"]),
                           "expected_hash": d["expected_hash"], "document_hash": d["document_hash"],
                           "document_date": d["document_date"], "document_date_iso": iso(d["document_date"]),
                           "presented_at": d["presented_at"], "presented_at_iso": iso(d["presented_at"]),
                           "complying": d["complying"], "presentations": d["presentations"]} for d in docs]}
    return out


__all__ = ["deal_out", "milestone_out", "rate_text"]
