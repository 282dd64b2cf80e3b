"""Agreements: preview the financing agreement of terms before signing; download a stored one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from .. import agreements
from ..deps import CallerDep, Ctx
from ..errors import Forbidden
from ..openapi import problems
from ..terms import TermsIn, prepare

router = APIRouter(prefix="/agreements", tags=["agreements"])

HashPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="the agreement's sha-256 "
                                                                           "(the terms' agreementHash)")]
DOCUMENT = {200: {"description": "the agreement: HTML (its UTF-8 bytes are what the hash covers) or PDF",
                  "content": {"text/html": {"schema": {"type": "string"}},
                              "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


def _answer(data: bytes, fmt: str, agreement_hash: str) -> Response:
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    return Response(data, media_type=media, headers={"X-Agreement-Hash": agreement_hash})


@router.post("/preview", response_class=Response, responses={**DOCUMENT, **problems(409)})
def preview(body: TermsIn, ctx: Ctx, caller: CallerDep,
            format: Annotated[Literal["html", "pdf"], Query(description="html (default) or pdf")] = "html"
            ) -> Response:
    """The agreement these terms would make (for the borrower or lender, before signing). Its
    hash is in the `X-Agreement-Hash` header: the `agreement_hash` of POST /deals/terms/preview."""
    if caller.address not in (body.borrower, body.lender):
        raise Forbidden("only the borrower or the lender of these terms can preview their agreement")
    rendered = agreements.render(ctx, prepare(ctx, body))
    key = "0x" + rendered.hash.hex()
    return _answer(rendered.pdf() if format == "pdf" else rendered.html, format, key)


@router.get("/{agreement_hash}", response_class=Response, responses={**DOCUMENT, **problems(404, 409)})
def download(agreement_hash: HashPath, ctx: Ctx, caller: CallerDep,
             format: Annotated[Literal["html", "pdf"], Query()] = "html") -> Response:
    """A stored agreement, decrypted for one of its parties (404 for anyone else); the HTML is
    checked against its hash (409 if the stored bytes were tampered with)."""
    data = agreements.fetch(ctx, agreement_hash, caller.address, pdf=format == "pdf")
    return _answer(data, format, agreement_hash.lower())
