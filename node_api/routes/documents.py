"""Encrypted trade documents: upload (encrypt, store by CID, wrap the key for each reader) and
download (re-check the hash anchored by a party entitled to the document, refuse tampering and
non-parties)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ..anchors import rightful_hashes
from ..body_guard import raw_body
from ..deps import CallerDep, Ctx
from ..documents import DocumentError, DocumentNotFoundError, NotAPartyError, StoreError, TamperedDocumentError
from ..documents.cid import parse_cid
from ..errors import DocumentStoreUnavailable, DocumentTooLarge, InvalidInput, NotFound, TamperedDocument
from ..models import _address
from ..openapi import READ_ONE, problems

router = APIRouter(prefix="/documents", tags=["documents"])


def cid_param(cid: Annotated[str, Path(min_length=8, max_length=128, pattern=r"^b[a-z2-7]+$",
                                       description="a base32 CIDv1 (as POST /documents gives it)")]) -> str:
    """A CID path parameter, parsed: anything but a CIDv1 is a 422 naming `cid`."""
    try:
        parse_cid(cid)
    except DocumentError:
        raise InvalidInput("cid", f"{cid!r} is not a CIDv1") from None
    return cid


Cid = Annotated[str, Depends(cid_param)]


class UploadedOut(BaseModel):
    cid: str
    sha256: str
    keccak256: str
    size: int
    readers: list[str]


class WrappedKeyOut(BaseModel):
    """The document key sealed for one reader (ECIES over secp256k1; see node_api.documents.crypto)."""

    version: str
    recipient: str
    ephemeral_public_key: str
    nonce: str
    ciphertext: str


@router.post("", status_code=201, response_model=UploadedOut, responses=problems(503), openapi_extra={
    "requestBody": {"required": True, "description": "the document bytes (at most the node's document limit, "
                                                     "25 MiB by default)",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
@raw_body
async def upload(request: Request, ctx: Ctx, caller: CallerDep,
                 readers: Annotated[str, Query(max_length=4096,
                                               description="comma-separated addresses allowed to read")] = ""
                 ) -> UploadedOut:
    """Body: the document bytes. The uploader is always a reader; only the uploader and the
    readers it names may anchor the document (their anchors are the ones downloads check)."""
    body = await request.body()  # already bounded by the body guard
    if not body:
        raise InvalidInput("body", "empty document")
    if len(body) > ctx.settings.document_max_bytes:
        raise DocumentTooLarge(ctx.settings.document_max_bytes)
    addresses = {caller.address}
    for part in filter(None, (p.strip() for p in readers.split(","))):
        try:
            addresses.add(_address(part))
        except ValueError:
            raise InvalidInput("readers", f"{part!r} is not an address") from None
    keys = {}
    for a in sorted(addresses):
        pk = ctx.public_keys.get(a)
        if pk is None:
            raise InvalidInput("readers", f"no encryption key known for {a}: the participant must log in once")
        keys[a] = pk
    try:
        doc = ctx.documents.upload(body, keys, uploader=caller.address)
    except StoreError as exc:  # kubo down, disk full: nothing was kept (see DocumentService.upload)
        raise DocumentStoreUnavailable(str(exc)) from None
    return UploadedOut(cid=doc.cid, sha256=doc.sha256, keccak256=doc.keccak, size=doc.size, readers=sorted(keys))


@router.get("/{cid}/key", response_model=WrappedKeyOut, responses=READ_ONE)
def wrapped_key(cid: Cid, ctx: Ctx, caller: CallerDep) -> dict:
    """The document key wrapped for the caller (for decryption on the client side)."""
    try:
        return ctx.documents.keyring.key_for(cid, caller.address).to_dict()
    except NotAPartyError:
        raise NotFound("document", cid) from None


@router.get("/{cid}", response_class=Response, responses={
    200: {"description": "the decrypted document", "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}},
    **problems(404, 409, 503)})
def download(cid: Cid, ctx: Ctx, caller: CallerDep,
             expected_hash: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None) -> Response:
    """Decrypts with the node's key for the caller (custodial mode). The bytes must match a hash
    anchored on chain by the uploader or a reader it named (anchors by anyone else are ignored),
    or `expected_hash` for a document not anchored by them yet."""
    try:
        ctx.documents.keyring.key_for(cid, caller.address)
    except NotAPartyError:
        raise NotFound("document", cid) from None
    hashes = rightful_hashes(ctx, cid) or ([expected_hash] if expected_hash else [])
    if not hashes:
        raise InvalidInput("expected_hash", "document is not anchored on chain: give the expected sha-256")
    key = ctx.signer(caller)
    try:
        data = ctx.documents.download(cid, hashes, caller.address, key.key)
    except TamperedDocumentError as exc:
        raise TamperedDocument(str(exc)) from None
    except DocumentNotFoundError:
        raise NotFound("document", cid) from None
    except StoreError as exc:
        raise DocumentStoreUnavailable(str(exc)) from None
    return Response(data, media_type="application/octet-stream")
