"""The headers every console response carries, and the CSRF check of every state-changing form."""

from __future__ import annotations

import hmac

from aiohttp import web
from multidict import MultiDictProxy

from services.console.api.context import Viewer, page

# Alert text is attacker-controlled: no inline script can run, nothing loads from elsewhere, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The monthly report inside the console's frame: its own inline style, shown only by the console itself.
REPORT_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; "
    "form-action 'none'"
)


async def security_headers(_: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, error pages, static files and the event stream included."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"


def csrf_ok(form: MultiDictProxy[str | bytes | web.FileField], v: Viewer) -> bool:
    sent = form.get("csrf")
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), v.csrf.encode())


def csrf_refused(request: web.Request) -> web.Response:
    return page(
        request,
        "error.html",
        status=403,
        title="Form refused",
        sentence="This form did not come from your console session (its CSRF token is missing or out of date). "
        "Nothing was changed.",
        lines=["Go back, reload the page and try again."],
    )


async def checked_form(request: web.Request, v: Viewer) -> MultiDictProxy[str | bytes | web.FileField] | None:
    """The POSTed form if its CSRF token is this session's, else None (the caller answers 403)."""
    form = await request.post()
    return form if csrf_ok(form, v) else None
