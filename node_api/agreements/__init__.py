"""Financing agreements: rendered from deal terms (``render``), stored encrypted for the parties
like other documents, fetched back with their hash checked against the terms' ``agreementHash``.

The parties of an agreement are the deal's borrower and lender and, where the product has them,
the obligor (an invoice's buyer: it reads the agreement, it does not sign it), a documentary
credit's applicant and presenter. Each gets the document key wrapped for its public key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from ..context import NodeContext
from ..documents import TamperedDocumentError
from ..errors import NotFound, TamperedDocument
from chain.vocabulary import Product

from ..store import agreements, node_writing, one
from .render import BORROWER_ROLE, LENDER_ROLE, Agreement, PartyFacts, agreement_hash, agreement_of, render_html, \
    render_pdf

__all__ = ["Agreement", "Rendered", "fetch", "parties_of", "render", "store"]


@dataclass(frozen=True)
class Rendered:
    agreement: Agreement
    html: bytes
    hash: bytes
    parties: dict[str, PartyFacts]

    def pdf(self) -> bytes:
        return render_pdf(self.agreement, self.hash)


def parties_of(ctx: NodeContext, prepared: Any) -> dict[str, PartyFacts]:
    """The parties with the registry's facts, read from the chain (not the read model: every node
    renders the same agreement)."""

    reg = ctx.clients().registry
    t, p = prepared.terms, prepared.product

    def facts(role: str, account: str) -> PartyFacts:
        m = reg.member(account)
        return PartyFacts(role, account, reg.legal_name(account) if m.exists else "(not a member)", m.lei, m.country)

    out = {"borrower": facts(BORROWER_ROLE[p], t.borrower), "lender": facts(LENDER_ROLE[p], t.lender)}
    if prepared.collateral.obligor:
        out["obligor"] = facts("Buyer (obligor)", prepared.collateral.obligor)
    if p is Product.DOCUMENTARY:
        credit = prepared.request.credit
        out["applicant"] = facts("Applicant (buyer)", credit.applicant)
        out["presenter"] = facts("Presenter", credit.presenter)
    return out


def render(ctx: NodeContext, prepared: Any) -> Rendered:
    parties = parties_of(ctx, prepared)
    a = agreement_of(prepared, parties, ctx.chain.chain_id, ctx.deployment.deal_engine, ctx.reader().decimals)
    html = render_html(a)
    return Rendered(a, html, agreement_hash(html), parties)


def store(ctx: NodeContext, rendered: Rendered, terms_digest: bytes | None = None) -> dict[str, Any]:
    """Stores the HTML and PDF encrypted for every party (once per agreement hash)."""
    key = "0x" + rendered.hash.hex()
    existing = one(ctx.db, agreements, agreements.c.agreement_hash == key)
    if existing is not None:
        return existing
    readers = {f.account: ctx.public_key(f.account) for f in rendered.parties.values()}
    html = ctx.documents.upload(rendered.html, readers)
    pdf = ctx.documents.upload(rendered.pdf(), readers)
    row = {"agreement_hash": key, "html_cid": html.cid, "html_stored_sha256": html.sha256, "pdf_cid": pdf.cid,
           "pdf_stored_sha256": pdf.sha256, "terms_digest": None if terms_digest is None else "0x" + terms_digest.hex(),
           "parties": sorted(readers), "created_at": ctx.chain_time()}
    with node_writing(ctx.db) as c:
        c.execute(insert(agreements).values(**row))
    return row


def fetch(ctx: NodeContext, agreement_hash_hex: str, reader: str, pdf: bool = False) -> bytes:
    """The stored agreement for one of its parties (NotFound for anyone else); the HTML's sha-256
    must be the agreement hash, the stored bytes the ones uploaded (TamperedDocument)."""
    import hashlib

    row = one(ctx.db, agreements, agreements.c.agreement_hash == agreement_hash_hex.lower())
    if row is None or reader not in row["parties"]:
        raise NotFound("agreement", agreement_hash_hex)
    key = ctx.signer_of(reader)
    cid, stored = (row["pdf_cid"], row["pdf_stored_sha256"]) if pdf else (row["html_cid"], row["html_stored_sha256"])
    try:
        data = ctx.documents.download(cid, stored, reader, key.key)
        if not pdf:
            data_hash = hashlib.sha256(data).hexdigest()
            if "0x" + data_hash != row["agreement_hash"]:
                raise TamperedDocumentError(f"the agreement hashes to 0x{data_hash}, not {row['agreement_hash']}")
    except TamperedDocumentError as exc:
        raise TamperedDocument(str(exc)) from None
    return data
