"""One incident: summary, clocks with their pauses, alerts, suspected-cause changes, the timeline, and the
actions this user may take as forms. Every action goes to triage's API; its 409/422 is shown in words."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from libs.events import utcnow
from libs.web import snapshot
from services.console.api.context import PREFIX, Viewer, page, safe_next, viewer
from services.console.api.errors import error_page, refusal
from services.console.api.forms import INCIDENT_ACTIONS, incident_body
from services.console.api.security import checked_form, csrf_refused
from services.console.domain.clocks import CLOCKS, clocks_by_name, countdown
from services.console.domain.roles import incident_actions, is_client
from services.console.upstream import Answer

HOLD_REASONS = (("pending_customer", "Pending customer"), ("pending_vendor", "Pending vendor"))
RESOLUTION_CODES = (
    "solved", "workaround", "not_reproducible", "duplicate", "caused_by_change", "resolved_by_caller", "cancelled",
)  # fmt: skip


async def _sla(request: web.Request, v: Viewer, incident: dict[str, Any]) -> tuple[dict, dict | None, dict]:
    """(clocks by name, escalation policy position, pause history by clock) from escalation and reporting."""
    number, tenant = incident.get("number", ""), incident.get("tenant", "")
    esc, story = await asyncio.gather(
        v.get(request, f"/v1/sla/incidents/{incident['id']}"),
        v.get(request, f"/v1/reports/{tenant}/incidents/{number}/sla"),
    )
    clocks = esc.body.get("clocks", []) if esc.ok and isinstance(esc.body, dict) else []
    policy = esc.body.get("escalation") if esc.ok and isinstance(esc.body, dict) else None
    steps = {c.get("clock"): c.get("steps", []) for c in (story.body.get("clocks", []) if story.ok else [])}
    # Escalation owns the clocks: what it says wins over triage's copy on the incident, which may lag.
    return clocks_by_name({} if clocks else incident, clocks), policy, steps


async def render(request: web.Request, v: Viewer, ref: str, *, problem: dict | None = None, status: int = 200,
                 form: dict | None = None) -> web.Response:  # fmt: skip
    answer = await v.get(request, f"/v1/incidents/{ref}")
    if not answer.ok:
        return error_page(request, answer)
    incident: dict[str, Any] = answer.body
    clocks, policy, pauses = await _sla(request, v, incident)
    now = utcnow()
    countdowns = [(name, countdown(name, clocks[name], now), clocks[name]) for name in CLOCKS if name in clocks]
    return page(
        request, "incident.html", status=status, i=incident, countdowns=countdowns, policy=policy, pauses=pauses,
        actions=incident_actions(incident, v.who), problem=problem, form=form or {}, hold_reasons=HOLD_REASONS,
        resolution_codes=RESOLUTION_CODES, staff=_staff(request, incident), show_internal=not is_client(v.who),
    )  # fmt: skip


def _staff(request: web.Request, incident: dict[str, Any]) -> list[str]:
    """Names to offer in the assign form (triage still checks tier and tenant)."""
    from services.console.domain.roles import INCIDENT_RESPONDERS

    tokens = snapshot(request).tokens.values()
    return sorted({p.user for p in tokens if p.has_role(INCIDENT_RESPONDERS) and p.can_see(incident.get("tenant", ""))})


async def incident_page(request: web.Request) -> web.Response:
    return await render(request, viewer(request), request.match_info["ref"])


async def incident_action(request: web.Request) -> web.Response:
    v = viewer(request)
    ref, action = request.match_info["ref"], request.match_info["action"]
    form = await checked_form(request, v)
    if form is None:
        return csrf_refused(request)
    if action not in INCIDENT_ACTIONS:
        raise web.HTTPNotFound(reason=f"No incident action {action!r}")
    answer: Answer = await v.post(request, f"/v1/incidents/{ref}/{action}", incident_body(action, form))
    if answer.ok:
        back = form.get("next")
        raise web.HTTPSeeOther(safe_next(back if isinstance(back, str) else None, f"{PREFIX}/incidents/{ref}"))
    if answer.status == 404:
        return error_page(request, answer)
    values = {k: val for k, val in form.items() if isinstance(val, str) and k != "csrf"}
    problem = refusal(answer) | {"action": action}
    status = answer.status if answer.status < 500 else 503
    return await render(request, v, ref, problem=problem, status=status, form=values)
