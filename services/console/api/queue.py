"""The incident queues: per tier, "mine", with filters; rows with a live SLA countdown; the fragments the
page's script fetches when a live message says a row moved; and the search box."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

from aiohttp import web

from libs.events import utcnow
from services.console.api.context import PREFIX, Viewer, page, viewer, visible_tenants
from services.console.api.errors import error_page
from services.console.domain.clocks import clocks_by_name, copy_lags, row_countdown
from services.console.domain.queue import CATEGORIES, PRIORITIES, STATES, BadFilter, QueueFilter, parse_filter
from services.console.domain.roles import incident_actions
from services.console.upstream import Answer

INCIDENT_NUMBER = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,9}-\d+$")
CHANGE_NUMBER = re.compile(r"^[A-Za-z][A-Za-z0-9]{1,9}-CHG-\d+$", re.IGNORECASE)
SLA_FETCHES = 16  # at once, for rows an older triage sends without their clocks


async def _clocks(request: web.Request, v: Viewer, items: list[dict[str, Any]]) -> dict[str, list[dict]]:
    """Escalation's clocks for the rows whose own `sla` (triage's copy) is missing or lags behind their state."""
    wanted = [i["id"] for i in items if copy_lags(i)]
    gate = asyncio.Semaphore(SLA_FETCHES)

    async def one(iid: str) -> tuple[str, list[dict]]:
        async with gate:
            a = await v.get(request, f"/v1/sla/incidents/{iid}")
        return iid, a.body.get("clocks", []) if a.ok and isinstance(a.body, dict) else []

    return dict(await asyncio.gather(*(one(i) for i in wanted)))


def row_view(incident: dict[str, Any], clocks: list[dict], v: Viewer) -> dict[str, Any]:
    now = utcnow()
    return {
        "i": incident,
        "countdown": row_countdown(incident, clocks_by_name({} if clocks else incident, clocks), now),
        "actions": incident_actions(incident, v.who),
    }


async def _list(request: web.Request, v: Viewer, f: QueueFilter) -> tuple[Answer, str | None]:
    answer = await v.get(request, "/v1/incidents", **f.api_params(v.who.user))
    if answer.status == 400 and f.sort != "opened" and '"sort"' in str(answer.body).replace("'", '"'):
        # A triage without sort= yet: show its own order and say so.
        fallback = await v.get(request, "/v1/incidents", **replace(f, sort="opened").api_params(v.who.user))
        return fallback, "This version of triage cannot sort yet; shown newest first."
    return answer, None


async def rows(request: web.Request, v: Viewer, f: QueueFilter) -> tuple[Answer, list[dict[str, Any]], str | None]:
    answer, note = await _list(request, v, f)
    if not answer.ok:
        return answer, [], note
    items = [i for i in answer.body.get("items", []) if f.text_matches(i)] if f.text else answer.body.get("items", [])
    clocks = await _clocks(request, v, items)
    return answer, [row_view(i, clocks.get(i["id"], []), v) for i in items], note


def _filter(request: web.Request, v: Viewer) -> QueueFilter:
    try:
        return parse_filter(request.query, [t for t, _ in visible_tenants(request, v)])
    except BadFilter as exc:
        raise _bad_filter(exc) from None


def _bad_filter(exc: BadFilter) -> web.HTTPBadRequest:
    lines = "; ".join(f"{p['field']}: {p['message']}" for p in exc.problems)
    return web.HTTPBadRequest(reason=f"Those filters are not valid ({lines})")


async def queue_page(request: web.Request) -> web.Response:
    v = viewer(request)
    f = _filter(request, v)
    answer, shown, note = await rows(request, v, f)
    if not answer.ok:
        return error_page(request, answer)
    next_cursor = answer.body.get("next_cursor")
    return page(
        request, "queue.html", f=f, rows=shown, note=note, next_cursor=next_cursor,
        tenants=visible_tenants(request, v), priorities=PRIORITIES, categories=CATEGORIES, states=STATES,
        active="mine" if f.view == "mine" else "queue",
    )  # fmt: skip


async def queue_fragment(request: web.Request) -> web.Response:
    """The rows alone: the script reloads them after a reconnect or a burst of live messages."""
    v = viewer(request)
    f = _filter(request, v)
    answer, shown, _ = await rows(request, v, f)
    if not answer.ok:  # the script keeps its rows; a person opening the URL reads why
        return error_page(request, answer)
    return page(request, "_rows.html", f=f, rows=shown)


async def row_fragment(request: web.Request) -> web.Response:
    """One row, if the incident (read with this user's token) belongs on the page's filter; 204 if not."""
    v = viewer(request)
    f = _filter(request, v)
    answer = await v.get(request, f"/v1/incidents/{request.match_info['ref']}")
    if answer.status == 404:
        return web.Response(status=204)
    if not answer.ok:  # a refusal is the client's (a 4xx in words), not the console's 503
        return error_page(request, answer)
    incident = answer.body
    if not f.matches(incident, v.who.user):
        return web.Response(status=204)
    clocks = await _clocks(request, v, [incident])
    return page(request, "_rows.html", f=f, rows=[row_view(incident, clocks.get(incident["id"], []), v)])


async def search(request: web.Request) -> web.Response:
    """/ in the console: a number goes straight to its incident or change; other text narrows the queue."""
    viewer(request)  # signed in, or off to sign-in first
    q = (request.query.get("q") or "").strip()[:200]
    if CHANGE_NUMBER.match(q):
        raise web.HTTPSeeOther(f"{PREFIX}/changes/{q.upper()}")
    if INCIDENT_NUMBER.match(q):
        raise web.HTTPSeeOther(f"{PREFIX}/incidents/{q.upper()}")
    raise web.HTTPSeeOther(f"{PREFIX}/queue?" + QueueFilter().query_string(text=q))
