"""Offers (issue 9 item 2): a lender posts signed terms for a borrower's confirmed invoice,
purchase order or warehouse receipt; the borrower lists the offers for its asset and accepts one
(the node submits it on chain with the lender's signature); the others lapse.

Offers are off-chain: this node stores them (``node_api.store.offers``) and shows each only to
its lender and to the asset's borrower. An offer's status is derived, at every read, from the
chain's facts in the read model (and chain time):

- ``accepted``: a deal was created from these terms (``deal_id``);
- ``revoked``: a party revoked the terms on chain;
- ``lapsed``: the asset is in another deal (or no longer available: paid, cancelled, split);
- ``expired``: the offer's ``accept_by`` has passed (chain time);
- ``open``: none of these.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, or_, select

from chain import eip712
from chain.indexer.projections import deal_terms_revocations, deals, invoices, purchase_orders, receipts
from chain.problems import ProblemError
from chain.vocabulary import Role

from . import agreements
from .context import Caller, NodeContext
from .errors import Forbidden, InvalidInput, NotFound
from .read_model import ReadModel
from .readable import Reader, iso
from .store import node_writing, offers
from .terms import TermsIn, prepare, terms_in, terms_out

#: Deal states that hold the collateral (a cancelled deal gave it back).
HOLDING = ("Accepted", "Funded", "Repaid", "Defaulted", "Closed")
UNAVAILABLE_INVOICE = ("Paid", "Cancelled", "Split", "Defaulted")


class OfferNotOpen(ProblemError):
    status = 409
    code = "offer_not_open"
    title = "The offer is not open"


def post(ctx: NodeContext, caller: Caller, t: TermsIn, lender_signature: str | None, note: str | None
         ) -> dict[str, Any]:
    """The lender's offer: checked terms, their agreement stored for the parties, the lender's
    signature (its node-held key, or the one it gives, checked), the offer stored."""
    caller.require(Role.LENDER)
    if caller.address != t.lender:
        raise Forbidden("an offer is posted by its lender")
    prepared = prepare(ctx, t)
    rendered = agreements.render(ctx, prepared)
    terms = prepared.with_agreement(rendered.hash)
    engine = ctx.clients().deals
    typed = engine.terms_typed_data(terms)
    digest = eip712.digest(typed)
    if lender_signature:
        sig = bytes.fromhex(lender_signature[2:])
        try:
            signer = eip712.recover(typed, sig)
        except Exception:  # noqa: BLE001 - any malformed signature
            signer = None
        if signer != t.lender:
            raise InvalidInput("lender_signature", f"the signature is not {t.lender}'s over these terms")
    else:
        sig = engine.sign_terms(ctx.signer(caller), terms)
    key = "0x" + digest.hex()
    with ctx.db.connect() as c:
        existing = c.execute(select(offers.c.id).where(offers.c.terms_digest == key)).scalar()
    if existing is not None:
        raise InvalidInput("terms", f"these terms are already offer {existing}")
    agreements.store(ctx, rendered, digest)
    row = {"lender": t.lender, "borrower": t.borrower, "product": t.product, "collateral_id": t.collateral_id,
           "currency": t.currency, "principal": t.principal, "fee": t.fee, "maturity": t.maturity,
           "accept_by": t.accept_by, "terms": terms_out(terms), "terms_digest": key,
           "lender_signature": "0x" + sig.hex(), "agreement_hash": "0x" + rendered.hash.hex(), "note": note,
           "created_at": ctx.chain_time()}
    with node_writing(ctx.db) as c:
        offer_id = c.execute(insert(offers).values(**row)).inserted_primary_key[0]
    return get(ctx, caller, offer_id)


def scope(caller: Caller) -> Any:
    return or_(offers.c.lender == caller.address, offers.c.borrower == caller.address)


def status_of(rm: ReadModel, row: dict[str, Any], now: int) -> tuple[str, int | None]:
    """(status, deal id) of an offer (see the module notes)."""
    deal = rm.one(deals, deals.c.terms_digest == row["terms_digest"])
    if deal is not None:
        return "accepted", deal["deal_id"]
    if rm.one(deal_terms_revocations, deal_terms_revocations.c.terms_digest == row["terms_digest"]) is not None:
        return "revoked", None
    if row["product"] != "Documentary":
        taken = rm.one(deals, deals.c.product == row["product"], deals.c.collateral_id == row["collateral_id"],
                       deals.c.state.in_(HOLDING))
        if taken is not None:
            return "lapsed", None
        if row["product"] == "Receivable":
            inv = rm.one(invoices, invoices.c.id == row["collateral_id"])
            if inv is not None and (inv["state"] in UNAVAILABLE_INVOICE or inv["holder"] != row["borrower"]):
                return "lapsed", None
        elif row["product"] == "Order":
            po = rm.one(purchase_orders, purchase_orders.c.id == row["collateral_id"])
            if po is not None and po["state"] != "Issued":
                return "lapsed", None
        else:
            r = rm.one(receipts, receipts.c.id == row["collateral_id"])
            if r is not None and (r["redeemed"] or r["pledgee"] is not None or r["holder"] != row["borrower"]):
                return "lapsed", None
    if now > row["accept_by"]:
        return "expired", None
    return "open", None


def offer_out(row: dict[str, Any], r: Reader, rm: ReadModel, now: int) -> dict[str, Any]:
    status, deal_id = status_of(rm, row, now)
    return {
        "id": row["id"], "status": status, "deal_id": deal_id, "product": row["product"],
        "collateral_id": str(row["collateral_id"]), "lender": row["lender"], "lender_name": r.name(row["lender"]),
        "lender_lei": r.lei(row["lender"]), "borrower": row["borrower"], "borrower_name": r.name(row["borrower"]),
        "borrower_lei": r.lei(row["borrower"]), "principal": r.money(row["principal"], row["currency"]),
        "fee": r.money(row["fee"], row["currency"]), "currency": row["currency"], "maturity": row["maturity"],
        "maturity_iso": iso(row["maturity"]), "accept_by": row["accept_by"], "accept_by_iso": iso(row["accept_by"]),
        "terms": row["terms"], "terms_digest": row["terms_digest"], "lender_signature": row["lender_signature"],
        "agreement_hash": row["agreement_hash"], "note": row["note"], "created_at": row["created_at"],
        "created_at_iso": iso(row["created_at"]), "clock": "chain", "as_of": now, "as_of_iso": iso(now)}


def row_of(ctx: NodeContext, caller: Caller, offer_id: int) -> dict[str, Any]:
    with ctx.db.connect() as c:
        row = c.execute(select(offers).where(offers.c.id == offer_id, scope(caller))).mappings().first()
    if row is None:
        raise NotFound("offer", offer_id)
    return dict(row)


def get(ctx: NodeContext, caller: Caller, offer_id: int) -> dict[str, Any]:
    return offer_out(row_of(ctx, caller, offer_id), ctx.reader(), ReadModel(ctx.db), ctx.chain_time())


def page(ctx: NodeContext, caller: Caller, *, product: str | None, collateral_id: int | None, status: str | None,
         limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    q = select(offers).where(scope(caller))
    if product:
        q = q.where(offers.c.product == product)
    if collateral_id is not None:
        q = q.where(offers.c.collateral_id == collateral_id)
    with ctx.db.connect() as c:
        rows = [dict(x) for x in c.execute(q.order_by(offers.c.id)).mappings()]
    r, rm, now = ctx.reader(), ReadModel(ctx.db), ctx.chain_time()
    items = [offer_out(x, r, rm, now) for x in rows]
    if status:
        items = [i for i in items if i["status"] == status]
    return items[offset:offset + limit], len(items)


def accept(ctx: NodeContext, caller: Caller, offer_id: int) -> tuple[int, dict[str, Any]]:
    """The borrower accepts an open offer: its node approves the collateral and submits the terms
    with the lender's signature (its own transaction is its consent)."""
    from .routes.deals import approve_collateral
    from .terms import PRODUCTS

    row = row_of(ctx, caller, offer_id)
    if caller.address != row["borrower"]:
        raise Forbidden("an offer is accepted by its borrower")
    status, deal_id = status_of(ReadModel(ctx.db), row, ctx.chain_time())
    if status != "open":
        raise OfferNotOpen(f"offer {offer_id} is {status}" + (f" (deal {deal_id})" if deal_id else ""),
                           offer_status=status)
    terms = terms_in(row["terms"])
    c = ctx.act(caller)
    approve_collateral(c, PRODUCTS[row["product"]], terms.product, terms.collateral_id)
    deal_id = c.deals.accept(terms, b"", bytes.fromhex(row["lender_signature"][2:]))
    return deal_id, c.deals.last_receipt


def revoke(ctx: NodeContext, caller: Caller, offer_id: int) -> dict[str, Any]:
    """The lender withdraws its offer: the terms are revoked on chain (they can never be used)."""
    row = row_of(ctx, caller, offer_id)
    if caller.address != row["lender"]:
        raise Forbidden("an offer is revoked by its lender")
    status, _ = status_of(ReadModel(ctx.db), row, ctx.chain_time())
    if status in ("accepted", "revoked"):
        raise OfferNotOpen(f"offer {offer_id} is {status}", offer_status=status)
    return ctx.act(caller).deals.revoke_terms(terms_in(row["terms"]))


__all__ = ["OfferNotOpen", "accept", "get", "offer_out", "page", "post", "revoke", "status_of"]
