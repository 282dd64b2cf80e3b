"""Swagger UI (``/docs``) and ReDoc (``/redoc``), served by the node from the pinned npm packages
(``swagger-ui-dist``, ``redoc``: package.json and its lock): no CDN, so the pages work on a node
without internet access. Swagger's *Authorize* button takes the session token (HTTP bearer)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from ..deps import Ctx
from ..errors import NotFound

router = APIRouter(include_in_schema=False)

#: The files each page loads, by the package (under node_modules) that ships them.
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui-dist", "swagger-ui-bundle.js"),
    "swagger-ui.css": ("swagger-ui-dist", "swagger-ui.css"),
    "favicon-32x32.png": ("swagger-ui-dist", "favicon-32x32.png"),
    "oauth2-redirect.html": ("swagger-ui-dist", "oauth2-redirect.html"),
    "redoc.standalone.js": ("redoc", "bundles/redoc.standalone.js"),
}
MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".html": "text/html"}


def asset_path(root: Path, name: str) -> Path:
    package, rel = ASSETS[name]
    return root / package / rel


@router.get("/docs", response_class=HTMLResponse)
def swagger(ctx: Ctx) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="tradenet node API",
                               swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                               swagger_css_url="/docs/assets/swagger-ui.css",
                               swagger_favicon_url="/docs/assets/favicon-32x32.png",
                               oauth2_redirect_url="/docs/assets/oauth2-redirect.html",
                               swagger_ui_parameters={"persistAuthorization": True, "tryItOutEnabled": True})


@router.get("/redoc", response_class=HTMLResponse)
def redoc(ctx: Ctx) -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title="tradenet node API",
                          redoc_js_url="/docs/assets/redoc.standalone.js",
                          redoc_favicon_url="/docs/assets/favicon-32x32.png", with_google_fonts=False)


@router.get("/docs/assets/{name}")
def asset(name: str, ctx: Ctx) -> FileResponse:
    if name not in ASSETS:
        raise NotFound("asset", name)
    path = asset_path(ctx.settings.ui_assets_dir, name)
    if not path.is_file():
        raise NotFound("asset", f"{name} (run scripts/setup.sh: npm packages missing under {path.parent})")
    return FileResponse(path, media_type=MEDIA[path.suffix], headers={"Cache-Control": "public, max-age=86400"})
