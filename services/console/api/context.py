"""What the console's handlers share: its state, the signed-in viewer, and rendering a page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp_jinja2
import asyncpg
from aiohttp import web

from libs.auth import Principal
from libs.events import utcnow
from libs.settings import Settings
from libs.web import snapshot
from services.console.domain.roles import is_client, navigation
from services.console.handlers import LiveHub
from services.console.sealing import Sealer
from services.console.upstream import Answer, Upstream

COOKIE = "tierline_session"
THEME_COOKIE = "tierline_theme"
PREFIX = "/console"


@dataclass
class ConsoleState:
    pool: asyncpg.Pool
    sealer: Sealer
    upstream: Upstream
    hub: LiveHub
    settings: Settings


STATE: web.AppKey[ConsoleState] = web.AppKey("console", ConsoleState)


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of this request: their principal (from the live config), API token and CSRF secret."""

    session_hash: str
    who: Principal
    token: str
    csrf: str
    expires_at: datetime

    async def get(self, request: web.Request, path: str, **params: str) -> Answer:
        return await request.app[STATE].upstream.get(self.token, path, **params)

    async def post(self, request: web.Request, path: str, body: Any) -> Answer:
        return await request.app[STATE].upstream.post(self.token, path, body)

    async def delete(self, request: web.Request, path: str) -> Answer:
        return await request.app[STATE].upstream.delete(self.token, path)


VIEWER: web.RequestKey[Viewer] = web.RequestKey("viewer", Viewer)


def viewer_or_none(request: web.Request) -> Viewer | None:
    return request.get(VIEWER)


def viewer(request: web.Request) -> Viewer:
    """The viewer, or a redirect to sign-in that comes back here afterwards."""
    v = request.get(VIEWER)
    if v is None:
        raise web.HTTPSeeOther(f"{PREFIX}/login?{_next_query(request)}")
    return v


def _next_query(request: web.Request) -> str:
    from urllib.parse import urlencode

    return urlencode({"next": request.path_qs}) if request.method == "GET" else ""


def visible_tenants(request: web.Request, v: Viewer) -> list[tuple[str, str]]:
    """(id, name) of every tenant this viewer may see, for filters and pickers."""
    return [(t.id, t.name) for t in snapshot(request).config.tenants if v.who.can_see(t.id)]


def theme(request: web.Request) -> str:
    return "light" if request.cookies.get(THEME_COOKIE) == "light" else "dark"


def page(request: web.Request, template: str, *, status: int = 200, **ctx: Any) -> web.Response:
    v = viewer_or_none(request)
    base = {
        "viewer": v,
        "who": v.who if v else None,
        "nav": navigation(v.who) if v else [],
        "client": bool(v and is_client(v.who)),
        "csrf": v.csrf if v else "",
        "theme": theme(request),
        "now": utcnow(),
        "path_qs": request.path_qs,
        "provider": snapshot(request).config.provider.name,
        "active": "",
        "problem": None,
    }
    response = aiohttp_jinja2.render_template(template, request, base | ctx, status=status)
    response.headers["Cache-Control"] = "no-store"  # pages hold one user's data: never from a shared cache
    return response


def fragment(request: web.Request, template: str, **ctx: Any) -> web.Response:
    return page(request, template, **ctx)


def safe_next(raw: str | None, default: str = f"{PREFIX}/queue") -> str:
    """Where to go after a form: only a path of this console (never another site, never //host)."""
    if raw and raw.startswith(f"{PREFIX}/") and not raw.startswith("//") and "\\" not in raw and "\n" not in raw:
        return raw
    return default
