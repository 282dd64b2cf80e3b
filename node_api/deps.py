"""FastAPI dependencies: the node context and the authenticated caller (roles and standing from
the chain's member record, within one block: node_api.members)."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from chain.vocabulary import Role

from .auth import Session, SessionNotFoundError
from .context import Caller, NodeContext
from .errors import Forbidden
from .standing import access_of, admit

#: the API's one security scheme (OpenAPI ``HTTPBearer``): the token ``POST /auth/login`` gives
bearer = HTTPBearer(auto_error=False, description="the session token from POST /auth/login")


async def get_ctx(request: Request) -> NodeContext:
    """The node's context (async: a plain attribute read is not worth a thread-pool hand-off,
    which FastAPI makes for every sync dependency of every request)."""
    return request.app.state.ctx


Ctx = Annotated[NodeContext, Depends(get_ctx)]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_of(ctx: NodeContext, authorization: str | None) -> Session:
    """The live session of an ``Authorization: Bearer <token>`` header, else a 401 problem."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SessionNotFoundError("authorization", "missing bearer session token (POST /auth/login first)")
    return ctx.sessions.get(token.strip())


def check_session(scope: Scope, authorization: str | None) -> None:
    """For the body guard: refuse a request without a live session before its body is read."""
    session_of(scope["app"].state.ctx, authorization)


def get_caller(request: Request, ctx: Ctx,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Caller:
    """The member behind the session, admitted by its standing for this route (node_api.standing)
    and by the auditor's read-only rule."""
    token = f"Bearer {credentials.credentials}" if credentials else None
    session = session_of(ctx, token)
    caller = ctx.caller(session.address)
    if not caller.member.exists:
        raise Forbidden(f"{caller.address} is not a member of the network")
    route = request.scope.get("route")
    admit(caller.member, access_of(request.method, getattr(route, "path", request.url.path)))
    if request.method not in READ_METHODS and caller.roles == Role.AUDITOR and request.url.path != "/auth/logout":
        raise Forbidden("auditors have read-only access")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def _calls(dependant: Dependant) -> Iterator[object]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def needs_session(route: APIRoute) -> bool:
    """Whether a route depends on the authenticated caller."""
    return any(call is get_caller for call in _calls(route.dependant))
