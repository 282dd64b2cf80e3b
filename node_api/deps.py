"""FastAPI dependencies: the node context and the authenticated caller (roles from the chain)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from chain.contracts import Role

from .auth import SessionNotFoundError
from .context import Caller, NodeContext
from .problems import forbidden


def get_ctx(request: Request) -> NodeContext:
    return request.app.state.ctx


Ctx = Annotated[NodeContext, Depends(get_ctx)]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_caller(request: Request, ctx: Ctx, authorization: Annotated[str | None, Header()] = None) -> Caller:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise SessionNotFoundError("authorization", "missing bearer session token (POST /auth/login first)")
    session = ctx.sessions.get(authorization[7:].strip())
    caller = ctx.caller(session.address)
    if not caller.member.exists:
        raise forbidden(f"{caller.address} is not a member of the network")
    if request.method not in READ_METHODS and caller.roles == Role.AUDITOR and request.url.path != "/auth/logout":
        raise forbidden("auditors have read-only access")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(caller: Caller, *roles: Role) -> None:
    """403 unless the caller holds one of `roles` (read from the chain at this request)."""
    if not caller.has(*roles):
        names = "/".join(r.name for r in roles)
        raise forbidden(f"this needs the {names} role; {caller.address} holds {'/'.join(caller.roles.names()) or 'none'}")
