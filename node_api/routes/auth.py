"""Sign-In with Ethereum: nonce, login, logout, and who am I."""

from __future__ import annotations

from datetime import datetime

from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from ..auth import verify_login
from ..auth.verify import decode_signature
from ..deps import CallerDep, Ctx
from ..documents.crypto import recover_public_key

router = APIRouter(prefix="/auth", tags=["auth"])


class NonceOut(BaseModel):
    nonce: str
    domain: str
    uri: str
    chain_id: int


class LoginIn(BaseModel):
    message: str = Field(description="the EIP-4361 message text the client signed", max_length=16384)
    signature: str = Field(description="0x-prefixed 65-byte personal_sign signature", max_length=200)


class LoginOut(BaseModel):
    token: str
    address: str
    expires_at: datetime
    roles: list[str]


class MeOut(BaseModel):
    address: str
    roles: list[str]
    lei: str
    country: str
    kyc_expiry: int
    suspended: bool
    sanctioned: bool
    custodial: bool


@router.post("/nonce", response_model=NonceOut)
def nonce(ctx: Ctx) -> NonceOut:
    return NonceOut(nonce=ctx.nonces.issue(), domain=ctx.settings.domain, uri=ctx.settings.uri,
                    chain_id=ctx.chain.chain_id)


@router.post("/login", response_model=LoginOut)
def login(body: LoginIn, ctx: Ctx) -> LoginOut:
    verified = verify_login(body.message, body.signature, expected_domain=ctx.settings.domain,
                            expected_chain_id=ctx.chain.chain_id, nonce_store=ctx.nonces)
    ctx.public_keys.add(verified.address, recover_public_key(body.message, decode_signature(body.signature)))
    issued = ctx.sessions.start(verified)
    caller = ctx.caller(verified.address)
    return LoginOut(token=issued.token, address=verified.address, expires_at=issued.session.expires_at,
                    roles=caller.roles.names())


@router.post("/logout", status_code=204)
def logout(ctx: Ctx, caller: CallerDep, authorization: Annotated[str | None, Header()] = None) -> None:
    ctx.sessions.revoke(authorization[7:].strip())  # get_caller already checked the bearer token


@router.get("/me", response_model=MeOut, tags=["auth"])
def me(ctx: Ctx, caller: CallerDep) -> MeOut:
    m = caller.member
    return MeOut(address=caller.address, roles=caller.roles.names(), lei=m.lei, country=m.country,
                 kyc_expiry=m.kyc_expiry, suspended=m.suspended, sanctioned=m.sanctioned,
                 custodial=caller.address in ctx.custodial)
