"""Changes: the calendar (week, month; freezes shaded, conflicts flagged) with the latest changes, one change
with its votes and workflow forms, and the create form (normal, emergency, or standard from a template)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from libs.events import utcnow
from libs.web import snapshot
from services.console.api.context import PREFIX, Viewer, page, viewer, visible_tenants
from services.console.api.errors import error_page, refusal
from services.console.api.forms import CHANGE_ACTIONS, change_body, new_change_body
from services.console.api.security import checked_form, csrf_refused
from services.console.domain.calendar import VIEWS, layout, span_for
from services.console.domain.roles import CHANGE_MANAGERS, change_actions, is_client, may_create_change, vote_refusal


def _anchor(raw: str | None) -> date:
    try:
        return date.fromisoformat(raw) if raw else utcnow().date()
    except ValueError:
        raise web.HTTPBadRequest(reason="date must be YYYY-MM-DD") from None


async def calendar_page(request: web.Request) -> web.Response:
    v = viewer(request)
    q = request.query
    view = q.get("view", "week")
    tenants = visible_tenants(request, v)
    tenant = q.get("tenant", "")
    if view not in VIEWS or tenant not in ("", *(t for t, _ in tenants)):
        raise web.HTTPBadRequest(reason="view is week or month; tenant one you may see")
    anchor = _anchor(q.get("date"))
    start, end, _, _ = span_for(view, anchor)
    cal = await v.get(request, "/v1/changes/calendar", tenant=tenant, **{"from": f"{start}", "to": f"{end}"})
    if not cal.ok:
        return error_page(request, cal)
    latest = await v.get(request, "/v1/changes", tenant=tenant, limit="20")
    grid = layout(view, anchor, cal.body.get("items", []), cal.body.get("freezes", []))
    return page(
        request, "changes.html", grid=grid, view=view, tenant=tenant, tenants=tenants, anchor=anchor,
        latest=latest.body.get("items", []) if latest.ok else [], can_create=may_create_change(v.who),
        active="changes", today=utcnow().date(),
    )  # fmt: skip


async def render_change(request: web.Request, v: Viewer, ref: str, *, problem: dict | None = None,
                        status: int = 200) -> web.Response:  # fmt: skip
    answer = await v.get(request, f"/v1/changes/{ref}")
    if not answer.ok:
        return error_page(request, answer)
    change: dict[str, Any] = answer.body
    return page(
        request, "change.html", status=status, c=change, actions=change_actions(change, v.who),
        vote_refusal=vote_refusal(change, v.who), problem=problem, active="changes",
        may_clear=not is_client(v.who) and v.who.has_role(CHANGE_MANAGERS),
    )  # fmt: skip


async def change_page(request: web.Request) -> web.Response:
    return await render_change(request, viewer(request), request.match_info["ref"])


async def change_action(request: web.Request) -> web.Response:
    v = viewer(request)
    ref, action = request.match_info["ref"], request.match_info["action"]
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    if action not in CHANGE_ACTIONS:
        raise web.HTTPNotFound(reason=f"No change action {action!r}")
    answer = await v.post(request, f"/v1/changes/{ref}/{action}", change_body(action, form))
    if answer.ok:
        raise web.HTTPSeeOther(f"{PREFIX}/changes/{ref}")
    if answer.status == 404:
        return error_page(request, answer)
    problem = refusal(answer) | {"action": action}
    return await render_change(request, v, ref, problem=problem, status=answer.status if answer.status < 500 else 503)


async def clear_link(request: web.Request) -> web.Response:
    """A manager clears an incident linked to the change as a suspected result (with the reason)."""
    v = viewer(request)
    ref, incident = request.match_info["ref"], request.match_info["incident"]
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    reason = form.get("reason")
    body = {"reason": reason.strip() or None if isinstance(reason, str) else None}
    answer = await v.post(request, f"/v1/changes/{ref}/incidents/{incident}/clear", body)
    if answer.ok:
        raise web.HTTPSeeOther(f"{PREFIX}/changes/{ref}")
    problem = refusal(answer) | {"action": "clear"}
    return await render_change(request, v, ref, problem=problem, status=answer.status if answer.status < 500 else 503)


def _templates(request: web.Request, v: Viewer) -> list[tuple[str, str]]:
    cfg = snapshot(request).config
    return [
        (f"{t.id}:{tpl.id}", f"{t.name}: {tpl.title}")
        for t in cfg.tenants
        if v.who.can_see(t.id)
        for tpl in t.changes.templates
    ]


def _cis(request: web.Request, v: Viewer) -> dict[str, list[tuple[str, str]]]:
    cfg = snapshot(request).config
    return {t.id: [(s.id, s.name) for s in t.services] for t in cfg.tenants if v.who.can_see(t.id)}


def _new_form(request: web.Request, v: Viewer, *, form: dict | None = None, problem: dict | None = None,
              status: int = 200) -> web.Response:  # fmt: skip
    start = (utcnow() + timedelta(days=2)).replace(hour=2, minute=0, second=0, microsecond=0)
    defaults = {
        "planned_start": f"{start:%Y-%m-%dT%H:%M}",
        "planned_end": f"{start + timedelta(hours=2):%Y-%m-%dT%H:%M}",
    }
    return page(
        request, "change_new.html", status=status, tenants=visible_tenants(request, v),
        templates=_templates(request, v), cis=_cis(request, v), form=defaults | (form or {}), problem=problem,
        active="changes",
    )  # fmt: skip


async def new_change_page(request: web.Request) -> web.Response:
    v = viewer(request)
    if not may_create_change(v.who):
        raise web.HTTPForbidden(reason="Your role does not raise changes")
    return _new_form(request, v, form={"change_type": request.query.get("type", "normal")})


async def create_change(request: web.Request) -> web.Response:
    v = viewer(request)
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    answer = await v.post(request, "/v1/changes", new_change_body(form))
    if answer.ok:
        raise web.HTTPSeeOther(f"{PREFIX}/changes/{answer.body['number']}")
    values = {k: val for k, val in form.items() if isinstance(val, str) and k != "csrf"}
    return _new_form(
        request, v, form=values, problem=refusal(answer), status=answer.status if answer.status < 500 else 503
    )
