"""Encrypted trade documents: upload (encrypt, store by CID, wrap the key for each reader) and
download (re-check the anchored hash, refuse tampering and non-parties)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ..deps import CallerDep, Ctx
from ..documents import DocumentError, NotAPartyError, TamperedDocumentError
from ..documents.cid import parse_cid
from ..models import _address
from ..problems import ApiProblem, bad_request, not_found
from ..read_model import invoices, receipts
from .common import read_model

router = APIRouter(prefix="/documents", tags=["documents"])

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
Cid = Annotated[str, Path(min_length=8, max_length=128, pattern=r"^[a-z2-7]+$")]


def _anchored_hash(ctx, cid: str) -> str | None:
    """The sha-256 anchored on chain with an invoice or receipt carrying this CID."""
    rm = read_model(ctx)
    for table in (invoices, receipts):
        row = rm.one(table, table.c.document_cid == cid)
        if row:
            return row["document_hash"]
    return None


@router.post("", status_code=201)
async def upload(request: Request, ctx: Ctx, caller: CallerDep,
                 readers: Annotated[str, Query(description="comma-separated addresses allowed to read")] = "") -> dict:
    """Body: the document bytes (application/octet-stream). The uploader is always a reader."""
    body = await request.body()
    if not body:
        raise bad_request("body", "empty document")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ApiProblem(413, "Document too large", f"limit is {MAX_DOCUMENT_BYTES} bytes", field="body",
                         code="too_large")
    addresses = {caller.address}
    for part in filter(None, (p.strip() for p in readers.split(","))):
        try:
            addresses.add(_address(part))
        except ValueError:
            raise bad_request("readers", f"{part!r} is not an address") from None
    keys = {}
    for a in sorted(addresses):
        pk = ctx.public_keys.get(a)
        if pk is None:
            raise bad_request("readers", f"no encryption key known for {a}: the participant must log in once")
        keys[a] = pk
    doc = ctx.documents.upload(body, keys)
    return {"cid": doc.cid, "sha256": doc.sha256, "keccak256": doc.keccak, "size": doc.size,
            "readers": sorted(keys)}


@router.get("/{cid}/key")
def wrapped_key(cid: Cid, ctx: Ctx, caller: CallerDep) -> dict:
    """The document key wrapped for the caller (for decryption on the client side)."""
    try:
        return ctx.documents.keyring.key_for(cid, caller.address).to_dict()
    except NotAPartyError:
        raise not_found("document", cid) from None


@router.get("/{cid}")
def download(cid: Cid, ctx: Ctx, caller: CallerDep,
             expected_hash: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None) -> Response:
    """Decrypts with the node's key for the caller (custodial mode). The hash checked is the one
    anchored on chain (or `expected_hash` for a document not anchored yet)."""
    try:
        parse_cid(cid)
    except DocumentError:
        raise bad_request("cid", f"{cid!r} is not a CIDv1") from None
    try:
        ctx.documents.keyring.key_for(cid, caller.address)
    except NotAPartyError:
        raise not_found("document", cid) from None
    anchored = _anchored_hash(ctx, cid) or expected_hash
    if anchored is None:
        raise bad_request("expected_hash", "document is not anchored on chain: give the expected sha-256")
    key = ctx.signer(caller)
    try:
        data = ctx.documents.download(cid, anchored, caller.address, key.key)
    except TamperedDocumentError as exc:
        raise ApiProblem(409, "Tampered document", str(exc), code="tampered_document") from None
    return Response(data, media_type="application/octet-stream")
