"""Sign-In with Ethereum: nonce, login, logout, and who am I."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..auth import verify_login
from ..auth.verify import decode_signature
from ..deps import CallerDep, Ctx
from ..documents.crypto import recover_public_key
from ..models import MultilineText, RequestModel
from ..openapi import problems
from ..standing import refuse_login, standing_of

router = APIRouter(prefix="/auth", tags=["auth"])


class NonceOut(BaseModel):
    nonce: str
    scheme: str = Field(description="the scheme the message must name (`<scheme>://<domain> wants you...`)")
    domain: str
    uri: str = Field(description="the URI the message must name (same origin)")
    chain_id: int


class LoginIn(RequestModel):
    message: MultilineText = Field(description="the EIP-4361 message text the client signed", max_length=16384)
    signature: str = Field(description="0x-prefixed 65-byte personal_sign signature", max_length=200,
                           pattern=r"^(0x)?[0-9a-fA-F]*$")


class LoginOut(BaseModel):
    token: str
    address: str
    expires_at: datetime
    roles: list[str]
    standing: str


class MeOut(BaseModel):
    address: str
    roles: list[str]
    lei: str
    country: str
    kyc_expiry: int
    suspended: bool
    sanctioned: bool
    standing: str
    custodial: bool


@router.post("/nonce", response_model=NonceOut)
def nonce(ctx: Ctx) -> NonceOut:
    s = ctx.settings
    return NonceOut(nonce=ctx.nonces.issue(), scheme=urlsplit(s.api_uri).scheme, domain=s.api_domain, uri=s.api_uri,
                    chain_id=ctx.chain.chain_id)


@router.post("/login", response_model=LoginOut, responses=problems(400, 401, 403))
def login(body: LoginIn, ctx: Ctx) -> LoginOut:
    """Checks the message against this node (scheme, domain, URI origin, chain, nonce, validity
    window, signature); then only members not sanctioned get a session."""
    s = ctx.settings
    verified = verify_login(body.message, body.signature, expected_domain=s.api_domain, expected_uri=s.api_uri,
                            expected_chain_id=ctx.chain.chain_id, nonce_store=ctx.nonces)
    caller = ctx.caller(verified.address)
    refuse_login(caller.member)
    ctx.public_keys.add(verified.address, recover_public_key(body.message, decode_signature(body.signature)))
    issued = ctx.sessions.start(verified)
    return LoginOut(token=issued.token, address=verified.address, expires_at=issued.session.expires_at,
                    roles=caller.roles.names(), standing=standing_of(caller.member).value)


@router.post("/logout", status_code=204, response_model=None)
def logout(request: Request, ctx: Ctx, caller: CallerDep) -> None:
    """Ends this session (get_caller has checked its token)."""
    ctx.sessions.revoke((request.headers.get("authorization") or "").partition(" ")[2].strip())


@router.get("/me", response_model=MeOut)
def me(ctx: Ctx, caller: CallerDep) -> MeOut:
    m = caller.member
    return MeOut(address=caller.address, roles=caller.roles.names(), lei=m.lei, country=m.country,
                 kyc_expiry=m.kyc_expiry, suspended=m.suspended, sanctioned=m.sanctioned,
                 standing=standing_of(m).value, custodial=caller.address in ctx.custodial)
