"""`/v1/ack/<token>`: the acknowledge and resolve links a page carries (docs/oncall.md, "Acknowledge links").

GET only shows what the link would do, with a button: mail scanners and link previews fetch links, and must
not acknowledge anything. POST acts once: the link is marked used and `page.acknowledged` (or `page.resolved`)
commits with it; triage, which owns the incident, applies it as the paged person. A link used, expired, unknown,
or for an incident already past what it would do says so in a page of its own, never a 5xx. The pages keep the
token out of other sites' reach: no referrer, no cache, no framing, no script."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from html import escape

import asyncpg
from aiohttp import web

from libs.events import utcnow
from libs.openapi import operation
from libs.uow import unit_of_work
from services.escalation import events
from services.escalation.api.state import STATE
from services.escalation.domain.acklinks import AckLink, link_state, token_hash
from services.escalation.store import ack_links, escalation_runs

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
}
STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#111}"
    "h1{font-size:1.4rem}.muted{color:#555}button{font-size:1.1rem;padding:.6rem 1.4rem;border-radius:6px;"
    "border:0;background:#1f6feb;color:#fff;cursor:pointer}.bad{color:#b42318}.ok{color:#067647}"
)
VERB = {"acknowledge": "Acknowledge", "resolve": "Resolve"}
DONE = {"acknowledge": "acknowledged", "resolve": "resolved"}


def html_page(status: int, title: str, body: str) -> web.Response:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{escape(title)} · Tierline</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8", headers=HEADERS)


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def refusal(link: AckLink | None, state: str) -> web.Response:
    """A link that cannot act: the same words whoever asks, nothing about an incident for an unknown one."""
    if link is None or state == "unknown":
        return html_page(404, "Link not valid", "<h1 class=bad>This link is not valid</h1><p>It may have been "
                         "mistyped, or expired long ago. Open the incident in Tierline instead.</p>")  # fmt: skip
    if state == "used":
        assert link.used_at is not None
        words = f"It was used at {_when(link.used_at)}; each link works once."
        return html_page(410, "Link used", f"<h1 class=bad>This link has been used already</h1><p>{words}</p>")
    words = f"It expired at {_when(link.expires_at)}. Open {escape(link.number)} in Tierline instead."
    return html_page(410, "Link expired", f"<h1 class=bad>This link has expired</h1><p>{words}</p>")


async def _link(request: web.Request, conn: asyncpg.Connection, *, lock: bool) -> AckLink | None:
    token = request.match_info["token"]
    if len(token) > 200:
        return None
    return await ack_links.find(conn, token_sha256=token_hash(token), lock=lock)


@operation("a page's acknowledge or resolve link: a confirmation page", media="text/html", public=True)
async def confirm_page(request: web.Request) -> web.Response:
    """GET: what the link would do, and a button to do it. Nothing changes."""
    st = request.app[STATE]
    async with st.pool.acquire() as conn:
        link = await _link(request, conn, lock=False)
        if (state := link_state(link, utcnow())) != "valid" or link is None:
            return refusal(link, state)
        runs = await escalation_runs.find(conn, incident_ids=[link.incident_id])
    title = f": {escape(runs[0].title)}" if runs else ""
    verb = VERB[link.action]
    body = (
        f"<h1>{verb} {escape(link.number)}{title}?</h1>"
        f"<p>As <strong>{escape(link.acts_as)}</strong>, paged by {escape(link.method)}. The link works once, "
        f"until {_when(link.expires_at)}.</p>"
        f'<form method="post"><button type="submit">{verb} {escape(link.number)}</button></form>'
        '<p class="muted">Opening this page did nothing; only the button acts.</p>'
    )
    return html_page(200, f"{verb} {link.number}", body)


@operation("act once on a page's link", media="text/html", public=True)
async def act(request: web.Request) -> web.Response:
    """POST: act once. An incident already acknowledged (or resolved) is left alone and the link kept."""
    st = request.app[STATE]
    now = utcnow()
    async with unit_of_work(st.pool, st.outbox) as tx:
        link = await _link(request, tx.conn, lock=True)
        if (state := link_state(link, now)) != "valid" or link is None:
            return refusal(link, state)
        runs = await escalation_runs.find(tx.conn, incident_ids=[link.incident_id])
        run_state = runs[0].state if runs else "running"
        if run_state == "closed" or (link.action == "acknowledge" and run_state == "acknowledged"):
            already = "resolved or closed" if run_state == "closed" else "acknowledged"
            words = f"<h1>{escape(link.number)} is already {already}</h1><p>Nothing was done; the link still works."
            return html_page(409, "Nothing to do", words + "</p>")
        await ack_links.use(tx.conn, replace(link, used_at=now))
        tx.emit(events.page_answered(link, now, correlation_id=request.headers.get("X-Request-Id")))
    done = DONE[link.action]
    body = (
        f"<h1 class=ok>{escape(link.number)} {done}</h1><p>As {escape(link.acts_as)}. "
        + ("The escalation policy stops paging." if link.action == "acknowledge" else "Its SLA clocks stop.")
        + "</p>"
    )
    return html_page(200, f"{link.number} {done}", body)
