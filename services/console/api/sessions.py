"""Sign-in and sign-out, and finding the session of each request.

A session is a row keyed by the SHA-256 of a random 256-bit id; the cookie carries the id (HttpOnly,
SameSite=Strict, Secure over TLS, Path=/console, Max-Age). The principal is looked up again in the live
config on every request, so a token removed from tierline.yaml ends its sessions at the next restart.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from libs.config import sha256_hex
from libs.events import utcnow
from libs.web import snapshot
from services.console import store
from services.console.api.context import COOKIE, PREFIX, STATE, VIEWER, Viewer, page, safe_next, viewer
from services.console.api.security import checked_form, csrf_refused

LOGIN_COOKIE = "tierline_login"  # a pre-session CSRF token for the sign-in form (double submit)


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto") == "https"


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="Strict", secure=_secure(request)
    )


@web.middleware
async def find_session(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """request["viewer"]: the live session of the cookie, if any."""
    raw = request.cookies.get(COOKIE)
    if raw and request.path.startswith(PREFIX) and not request.path.startswith(f"{PREFIX}/static/"):
        st = request.app[STATE]
        row = await store.live_session(st.pool, id_sha256=sha256_hex(raw))
        token = st.sealer.unseal(row.sealed_token) if row else None
        who = snapshot(request).tokens.get(sha256_hex(token)) if token else None
        if row and token and who:
            request[VIEWER] = Viewer(row.id_sha256, who, token, row.csrf_secret, row.expires_at)
    return await handler(request)


async def login_form(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    nonce = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", status=status, error=error, nonce=nonce, next=safe_next(request.query.get("next"))
    )
    _set_cookie(request, response, LOGIN_COOKIE, nonce, 3600)
    return response


async def login_page(request: web.Request) -> web.Response:
    if request.get(VIEWER):
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await login_form(request)


async def login(request: web.Request) -> web.Response:
    st = request.app[STATE]
    form = await request.post()
    nonce, sent = request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf")
    if not nonce or not isinstance(sent, str) or not hmac.compare_digest(nonce.encode(), sent.encode()):
        return await login_form(request, error="The sign-in form was out of date; please try again.", status=403)
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    who = snapshot(request).tokens.get(sha256_hex(token)) if token else None
    if who is None:
        message = "That API token is not one this Tierline knows. Check it and try again."
        return await login_form(request, error=message if token else "Enter your API token.", status=401)
    session_id = secrets.token_urlsafe(32)  # 256 random bits
    hours = st.settings.console_session_hours
    await store.insert_session(
        st.pool,
        id_sha256=sha256_hex(session_id),
        user_name=who.user,
        role=who.role,
        tenant=who.tenant,
        sealed_token=st.sealer.seal(token),
        csrf_secret=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=hours),
    )
    form_next = form.get("next")
    response = web.HTTPSeeOther(safe_next(form_next if isinstance(form_next, str) else None))
    _set_cookie(request, response, COOKIE, session_id, int(hours * 3600))
    response.del_cookie(LOGIN_COOKIE, path=PREFIX)
    raise response


async def logout(request: web.Request) -> web.Response:
    v = viewer(request)
    if await checked_form(request, v) is None:
        return csrf_refused(request)
    await store.delete_session(request.app[STATE].pool, id_sha256=v.session_hash)
    response = web.HTTPSeeOther(f"{PREFIX}/login")
    response.del_cookie(COOKIE, path=PREFIX)
    raise response


async def set_theme(request: web.Request) -> web.Response:
    from services.console.api.context import THEME_COOKIE

    v = viewer(request)
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    chosen = "light" if form.get("theme") == "light" else "dark"
    back = form.get("next")
    response = web.HTTPSeeOther(safe_next(back if isinstance(back, str) else None))
    response.set_cookie(THEME_COOKIE, chosen, max_age=365 * 86400, path=PREFIX, samesite="Strict", httponly=True)
    raise response
