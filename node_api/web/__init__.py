"""The node's web dashboard (issue 13 item 2): server-rendered pages (Jinja2) per role, a little
JS (login through the browser's wallet, EIP-1193; charts with the pinned npm chart.js; live
updates from the event stream), all served by the node itself. docs/dashboard.md has the pages."""

from .routes import router

__all__ = ["router"]
