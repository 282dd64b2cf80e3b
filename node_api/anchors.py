"""Which on-chain anchors of a document count: those made by its uploader or by a reader the
uploader named.

A document's sha-256 and CID are anchored with an invoice (by its seller), a warehouse receipt
(by its warehouse) or a purchase order (by its buyer). Anyone can mint an invoice naming any CID, so a download must not trust
whichever anchor comes first: a second seller once anchored another seller's CID with a bogus
hash and every download of it answered 409 "Tampered document" from then on. Only anchors by
the parties the upload named (the uploader and its readers) are checked, and the bytes need to
match one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.indexer.projections import invoices, purchase_orders, receipts

from .context import NodeContext
from .documents import DocumentError, parse_cid
from .errors import InvalidInput
from .read_model import ReadModel


@dataclass(frozen=True)
class Anchor:
    kind: str  # "invoice", "receipt" or "order"
    ident: int
    anchored_by: str  # the invoice's seller, the receipt's warehouse
    document_hash: str


def entitled(ctx: NodeContext, cid: str) -> set[str]:
    """The uploader of `cid` and the readers it named (empty if this node does not hold it)."""
    keyring = ctx.documents.keyring
    parties = set(keyring.get(cid))
    uploader = keyring.uploader(cid)
    if uploader:
        parties.add(uploader)
    return parties


def anchors(ctx: NodeContext, cid: str) -> list[Anchor]:
    """Every anchor of `cid` in the read model, in chain order."""
    rm = ReadModel(ctx.db)
    out = [Anchor("invoice", r["id"], r["seller"], r["document_hash"])
           for r in rm.all(invoices, invoices.c.document_cid == cid)]
    out += [Anchor("receipt", r["id"], r["warehouse"], r["document_hash"])
            for r in rm.all(receipts, receipts.c.document_cid == cid)]
    out += [Anchor("order", r["id"], r["buyer"], r["document_hash"])
            for r in rm.all(purchase_orders, purchase_orders.c.document_cid == cid)]
    return sorted(out, key=lambda a: (a.kind, a.ident))


def rightful_hashes(ctx: NodeContext, cid: str) -> list[str]:
    """The hashes anchored for `cid` by the parties entitled to anchor it (others ignored)."""
    parties = entitled(ctx, cid)
    return list(dict.fromkeys(a.document_hash for a in anchors(ctx, cid) if a.anchored_by in parties))


def check_anchoring(ctx: NodeContext, anchorer: str, cid: str, document_hash: str) -> None:
    """Before this node anchors `cid` for `anchorer`: if it holds the document, the anchorer must
    be entitled to it and the hash must be the document's (422 otherwise). Documents held
    elsewhere are not judged here (their node's downloads ignore anchors by the wrong party)."""
    try:
        parse_cid(cid)
    except DocumentError:
        return
    parties = entitled(ctx, cid)
    if not parties:
        return
    if anchorer not in parties:
        raise InvalidInput("document_cid", f"document {cid} was not uploaded by or for {anchorer}")
    try:
        stored = ctx.documents.stored_hash(cid)
    except DocumentError:
        return
    if stored != document_hash.lower():
        raise InvalidInput("document_hash", f"document {cid} hashes to {stored}, not {document_hash}")
