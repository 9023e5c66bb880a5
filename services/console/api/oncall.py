"""On call: who is on call now for each schedule the user may see, the week's final shifts, and (managers and
admins) the overrides with a form to add one and a button to remove one. Everything comes from escalation's
schedule API with the user's own token; its refusals are shown in words."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from libs.events import utcnow
from libs.web import snapshot
from services.console.api.context import PREFIX, Viewer, page, viewer
from services.console.api.errors import error_page, refusal
from services.console.api.forms import utc_time
from services.console.api.security import checked_form, csrf_refused
from services.console.domain.oncall import by_day, may_override, week_of


def _monday(raw: str | None) -> date:
    try:
        return week_of(date.fromisoformat(raw) if raw else utcnow().date())
    except ValueError:
        raise web.HTTPBadRequest(reason="date must be YYYY-MM-DD") from None


async def _schedule(request: web.Request, v: Viewer, item: dict[str, Any], monday: date) -> dict[str, Any]:
    """One schedule's row: its week's shifts by day, and for a manager its overrides and who may be put on."""
    span = {"from": f"{monday}", "to": f"{monday + timedelta(days=7)}"}
    shifts = await v.get(request, f"/v1/schedules/{item['id']}/shifts", **span)
    row = {"s": item, "days": by_day(shifts.body.get("shifts", []) if shifts.ok else [], monday), "overrides": []}
    if may_override(v.who):
        detail = await v.get(request, f"/v1/schedules/{item['id']}")
        row["overrides"] = detail.body.get("overrides", []) if detail.ok else []
        row["feed"] = detail.body.get("ics_url") if detail.ok else None
    # Whom to offer in the form: the people this schedule reaches and its own users (escalation still checks).
    directory = snapshot(request).config.directory
    ref = directory.schedules.get(item["id"])
    row["users"] = sorted(set(directory.people(ref.tenant)) | ref.schedule.users) if ref else []
    return row


async def render(request: web.Request, v: Viewer, *, monday: date, problem: dict | None = None,
                 form: dict | None = None, status: int = 200) -> web.Response:  # fmt: skip
    listing = await v.get(request, "/v1/schedules")
    if not listing.ok:
        return error_page(request, listing)
    items = listing.body.get("items", [])
    rows = await asyncio.gather(*(_schedule(request, v, item, monday) for item in items))
    today = utcnow().date()
    days = [monday + timedelta(days=n) for n in range(7)]
    return page(
        request, "oncall.html", status=status, rows=rows, monday=monday, days=days,
        prev=monday - timedelta(days=7), next=monday + timedelta(days=7), today=today, this_week=week_of(today),
        can_override=may_override(v.who), problem=problem, form=form or {}, active="oncall",
    )  # fmt: skip


async def oncall_page(request: web.Request) -> web.Response:
    v = viewer(request)
    return await render(request, v, monday=_monday(request.query.get("date")))


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


async def add_override(request: web.Request) -> web.Response:
    v = viewer(request)
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    schedule, monday = _text(form, "schedule") or "", _monday(_text(form, "date"))
    body = {"user": _text(form, "user"), "start": utc_time(_text(form, "start")), "end": utc_time(_text(form, "end"))}
    if note := _text(form, "note"):
        body["note"] = note
    answer = await v.post(request, f"/v1/schedules/{schedule}/overrides", body)
    if answer.ok:
        raise web.HTTPSeeOther(f"{PREFIX}/oncall?date={monday}#schedule-{schedule}")
    kept = {k: val for k, val in form.items() if isinstance(val, str) and k != "csrf"}
    problem = refusal(answer) | {"action": "override"}
    return await render(request, v, monday=monday, problem=problem, form=kept,
                        status=answer.status if answer.status < 500 else 503)  # fmt: skip


async def remove_override(request: web.Request) -> web.Response:
    v = viewer(request)
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    schedule, oid = request.match_info["schedule"], request.match_info["override_id"]
    answer = await v.delete(request, f"/v1/schedules/{schedule}/overrides/{oid}")
    monday = _monday(_text(form, "date"))
    if answer.ok:
        raise web.HTTPSeeOther(f"{PREFIX}/oncall?date={monday}#schedule-{schedule}")
    return await render(request, v, monday=monday, problem=refusal(answer) | {"action": "remove override"},
                        status=answer.status if answer.status < 500 else 503)  # fmt: skip
