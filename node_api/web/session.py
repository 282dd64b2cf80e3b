"""The dashboard's login: the same Sign-In with Ethereum as ``POST /auth/login`` (the same nonce store,
verification and session store), with the session token in an HttpOnly, SameSite=Strict cookie so
that server-rendered pages and the browser's EventSource carry it.

A page reads the caller like ``node_api.deps.get_caller`` does: the session, then the member and its
standing from the chain, admitted by the standing rule of the API route the page shows
(``node_api.standing.ROUTE_ACCESS``)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request, Response

from ..auth import SessionError, build_login_message, sign_login_message
from ..context import Caller, NodeContext
from ..errors import Forbidden, NotFound
from ..routes.auth import LoginIn, LoginOut, login
from ..standing import access_of, admit

COOKIE = "tradenet_session"
STATEMENT = "Sign in to the tradenet dashboard with your participant key."


class NotLoggedIn(Exception):
    """No live dashboard session: the page sends the browser to /login."""


def login_message(ctx: NodeContext, address: str) -> str:
    """The EIP-4361 text a wallet signs: a fresh nonce of this node, its domain, URI and chain; it
    expires with the session it opens (a session never outlives its message; the nonce is single-use)."""
    s = ctx.settings
    return build_login_message(address=address, scheme=urlsplit(s.api_uri).scheme, domain=s.api_domain,
                               uri=s.api_uri, chain_id=ctx.chain.chain_id, nonce=ctx.nonces.issue(),
                               statement=STATEMENT, lifetime=timedelta(seconds=s.session_ttl_seconds)).to_text()


def start(ctx: NodeContext, response: Response, message: str, signature: str) -> LoginOut:
    """Checks the signed message exactly as ``POST /auth/login`` does and sets the session cookie."""
    out = login(LoginIn(message=message, signature=signature), ctx)
    response.set_cookie(COOKIE, out.token, max_age=ctx.settings.session_ttl_seconds, httponly=True,
                        samesite="strict", secure=urlsplit(ctx.settings.api_uri).scheme == "https", path="/")
    return out


def demo_start(ctx: NodeContext, response: Response, address: str) -> LoginOut:
    """The demo-key picker: the node signs the login with a custodial key it holds. Refused unless
    the node runs with ``demo_login`` (TRADENET_DEMO_LOGIN=1)."""
    if not ctx.settings.demo_login:
        raise NotFound("demo login", "(this node does not offer demo keys: log in with your wallet)")
    key = ctx.custodial.get(address)
    if key is None:
        raise NotFound("demo key", address)
    message = login_message(ctx, key.address)
    return start(ctx, response, message, sign_login_message(message, key))


def end(ctx: NodeContext, request: Request, response: Response) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        ctx.sessions.revoke(token)
    response.delete_cookie(COOKIE, path="/")


def same_origin(ctx: NodeContext, request: Request) -> None:
    """A state-changing dashboard request must come from the node's own pages (besides the
    SameSite cookie): a browser names the page's origin in ``Origin`` (pages send it: their
    Referrer-Policy is same-origin; with no-referrer a form POST would say ``Origin: null``)."""
    origin = request.headers.get("origin")
    ours = urlsplit(ctx.settings.api_uri)
    if origin is not None and origin != f"{ours.scheme}://{ours.netloc}":
        raise Forbidden(f"requests from {origin} are refused: use the dashboard at {ctx.settings.api_uri}")


def caller_of(ctx: NodeContext, request: Request, api_path: str) -> Caller:
    """The member behind the session cookie, admitted by its standing for `api_path` (a GET route
    of the API whose data the page shows); NotLoggedIn without a live session."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotLoggedIn()
    try:
        session = ctx.sessions.get(token)
    except SessionError:
        raise NotLoggedIn() from None
    caller = ctx.caller(session.address)
    if not caller.member.exists:
        raise Forbidden(f"{caller.address} is not a member of the network")
    admit(caller.member, access_of("GET", api_path))
    return caller
