"""The dashboard's routes: ``/`` and ``/login``, the pages under ``/ui/``, the login calls the
browser makes, the live event stream (cookie session) and the static assets (our own and the
pinned npm ``chart.js``). Every page is rendered on the server (Jinja2) with the CSP of
:data:`SECURITY_HEADERS`: nothing loads from anywhere but the node itself."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Callable
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from chain.problems import ProblemError
from chain.vocabulary import Role

from ..auth import SessionNotFoundError
from ..context import Caller, NodeContext
from ..documents import mask_sensitive
from ..errors import NotFound
from ..models import Address
from ..readable import iso, short
from ..routes import events
from ..routes.auth import LoginIn
from . import session, views
from .session import NotLoggedIn

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(short=short, heat_class=views.heat_class)

#: No external origin anywhere: scripts, styles, images, fetches and the event stream are the node's.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}

#: Static files: ours (node_api/web/static) and the pinned npm packages' (node_modules).
OWN_ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
NPM_ASSETS = {"chart.umd.min.js": ("chart.js", "dist/chart.umd.min.js")}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Page:
    """One page: where it is, what it reads (`view`), the API route whose standing rule it follows
    (`api`), and which roles see it in the menu (None: every member)."""

    name: str
    path: str
    title: str
    template: str
    api: str
    view: Callable[..., dict[str, Any]]
    roles: Role | None = None
    menu: bool = True

    def shown_to(self, caller: Caller) -> bool:
        return self.menu and (self.roles is None or caller.has(*self.roles))


PAGES = (
    Page("overview", "/", "Overview", "overview.html", "/accounts/{address}/balances", views.overview),
    Page("deals", "/ui/deals", "Deals", "deals.html", "/deals", views.deal_list),
    Page("deal", "/ui/deals/{deal_id}", "Deal", "deal.html", "/deals/{deal_id}", views.deal_page, menu=False),
    Page("documents", "/ui/documents", "Invoices, POs, receipts", "documents.html", "/invoices", views.documents,
         Role.SELLER | Role.BUYER | Role.LENDER | Role.WAREHOUSE | Role.AUDITOR),
    Page("portfolio", "/ui/portfolio", "Portfolio", "portfolio.html", "/portfolio", views.portfolio, Role.LENDER),
    Page("flows", "/ui/flows", "Fund flows", "flows.html", "/accounts/{address}/transfers", views.fund_flows),
    Page("fx", "/ui/fx", "FX rates", "fx.html", "/fx-rates", views.fx),
    Page("risk", "/ui/risk", "Risk", "risk.html", "/risk/heatmap", views.risk_page, Role.ADMIN | Role.AUDITOR),
    Page("treasury", "/ui/treasury", "Treasury", "treasury.html", "/treasury/movements", views.treasury_page,
         Role.TREASURY | Role.AUDITOR),
    Page("pools", "/ui/pools", "Pools", "pools.html", "/pools", views.pool_list,
         Role.INVESTOR | Role.LENDER | Role.AUDITOR),
    Page("pool", "/ui/pools/{pool_id}", "Pool", "pool.html", "/pools/{pool_id}/verification", views.pool_page,
         menu=False),
)
BY_NAME = {p.name: p for p in PAGES}


def _ctx(request: Request) -> NodeContext:
    return request.app.state.ctx


def render(request: Request, template: str, status: int = 200, **data: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, data, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _frame(ctx: NodeContext, caller: Caller | None) -> dict[str, Any]:
    """What every page's frame shows: who is logged in, the menu, the chain clock, the stream cursor."""
    now = ctx.chain_time()
    out: dict[str, Any] = {"caller": caller, "now_iso": iso(now), "menu": [], "caller_name": None, "roles": [],
                           "cursor": None}
    if caller is not None:
        out.update(menu=[p for p in PAGES if p.shown_to(caller)], caller_name=ctx.reader().name(caller.address),
                   roles=caller.roles.names(), cursor=views.stream_cursor(ctx))
    return out


def show(request: Request, page: Page, **ids: Any) -> Response:
    """A page for the session's member; to /login without one; a readable refusal (status and
    sentence) when the member may not see it (role, standing, not its object)."""
    ctx = _ctx(request)
    caller = None
    try:
        caller = session.caller_of(ctx, request, page.api)
        data = page.view(ctx, caller, ctx.reader(), **ids)
    except NotLoggedIn:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    except ProblemError as e:
        return render(request, "error.html", status=e.status, page=page, problem=e.problem(request.url.path),
                      **_frame(ctx, caller))
    return render(request, page.template, page=page, **data, **_frame(ctx, caller))


def _page_route(page: Page) -> None:
    def handler(request: Request) -> Response:
        return show(request, page)

    router.add_api_route(page.path, handler, methods=["GET"], response_class=HTMLResponse, name=f"ui_{page.name}")


for _p in PAGES:
    if "{" not in _p.path:
        _page_route(_p)


@router.get("/ui/deals/{deal_id}", response_class=HTMLResponse)
def deal_page(request: Request, deal_id: int) -> Response:
    return show(request, BY_NAME["deal"], deal_id=deal_id)


@router.get("/ui/pools/{pool_id}", response_class=HTMLResponse)
def pool_page(request: Request, pool_id: int) -> Response:
    return show(request, BY_NAME["pool"], pool_id=pool_id)


# ---------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    ctx = _ctx(request)
    demo = []
    if ctx.settings.demo_login:
        r = ctx.reader()
        demo = sorted(({"address": a, "name": r.name(a) or a,
                        "roles": "/".join(ctx.caller(a).roles.names()) or "no role"} for a in ctx.custodial),
                      key=lambda k: (k["name"], k["address"]))
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return render(request, "login.html", demo=demo, next=target, page=None, **_frame(ctx, None))


class MessageIn(BaseModel):
    address: Address


class MessageOut(BaseModel):
    message: str


class WebLoginOut(BaseModel):
    address: str
    roles: list[str]
    standing: str


@router.post("/ui/login/message", response_model=MessageOut)
def login_message(body: MessageIn, request: Request) -> MessageOut:
    """The sign-in message for the wallet's account (a fresh nonce, this node's domain and chain)."""
    ctx = _ctx(request)
    session.same_origin(ctx, request)
    return MessageOut(message=session.login_message(ctx, body.address))


@router.post("/ui/login", response_model=WebLoginOut)
def login(body: LoginIn, request: Request, response: Response) -> WebLoginOut:
    """The wallet's signature of that message: checked like POST /auth/login; sets the cookie."""
    ctx = _ctx(request)
    session.same_origin(ctx, request)
    out = session.start(ctx, response, body.message, body.signature)
    return WebLoginOut(address=out.address, roles=out.roles, standing=out.standing)


@router.post("/ui/demo-login", response_model=WebLoginOut)
def demo_login(body: MessageIn, request: Request, response: Response) -> WebLoginOut:
    """Demo nodes only (``demo_login``): log in as one of the node's custodial keys."""
    ctx = _ctx(request)
    session.same_origin(ctx, request)
    out = session.demo_start(ctx, response, body.address)
    return WebLoginOut(address=out.address, roles=out.roles, standing=out.standing)


@router.post("/ui/logout")
def logout(request: Request) -> Response:
    ctx = _ctx(request)
    session.same_origin(ctx, request)
    response = RedirectResponse("/login", status_code=303)
    session.end(ctx, request, response)
    return response


# ---------------------------------------------------------------------------- live updates


@router.get("/ui/events")
async def live(request: Request, after: Annotated[str | None, Query(pattern=r"^\d{1,18}:\d{1,9}$")] = None) -> Response:
    """Server-Sent Events for the session cookie (an EventSource sends no Authorization header):
    the API's stream of indexed events (`/events/stream`: its own and its deals' events); unnamed messages (the page listens
    to every event the same way; the event's name is in its data)."""
    ctx = _ctx(request)
    try:
        caller = await asyncio.to_thread(session.caller_of, ctx, request, "/events/stream")
    except NotLoggedIn:
        raise SessionNotFoundError("session", "log in on /login first") from None
    resume = request.headers.get("last-event-id", "")  # an EventSource reconnecting names the last id it got
    if re.fullmatch(r"\d{1,18}:\d{1,9}", resume):
        after = resume
    start = tuple(int(x) for x in after.split(":")) if after else (-1, -1)

    async def gen() -> AsyncIterator[bytes]:
        cursor = start
        yield b": tradenet dashboard stream\n\n"
        while not await request.is_disconnected():
            rows = await asyncio.to_thread(events._fetch, ctx, cursor, 200)
            mine = await asyncio.to_thread(events.deal_ids, ctx, caller) if rows else set()
            for r in rows:
                cursor = (r["block_number"], r["log_index"])
                if events.visible(r, caller, mine):
                    data = json.dumps(mask_sensitive(events._event_out(r)), default=str)
                    yield f"id: {cursor[0]}:{cursor[1]}\ndata: {data}\n\n".encode()
            if not rows:
                await asyncio.sleep(0.25)

    return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------------------- assets


@router.get("/ui/static/{name}")
def asset(name: str, request: Request) -> FileResponse:
    if name in OWN_ASSETS:
        path, media = HERE / "static" / name, OWN_ASSETS[name]
    elif name in NPM_ASSETS:
        package, rel = NPM_ASSETS[name]
        path, media = _ctx(request).settings.ui_assets_dir / package / rel, "text/javascript"
        if not path.is_file():
            raise NotFound("asset", f"{name} (run scripts/setup.sh: npm package {package} missing)")
    else:
        raise NotFound("asset", name)
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=3600",
                                                         "X-Content-Type-Options": "nosniff"})
