"""Triage's HTTP commands: create an incident or request by hand, and every lifecycle action on one.

Each command authenticates, validates its body (400/422 change nothing), finds the incident the token may
see (404 otherwise, exactly as for an id that does not exist), applies a pure action (domain/actions.py) and
commits the incident, its timeline entries and its events in one unit of work. A domain refusal
(IncidentRefused, IllegalTransition) becomes its HTTP answer here, at the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate
from libs.errors import ApiError, read_body
from libs.events import utcnow
from libs.lifecycle import IllegalTransition
from libs.openapi import operation
from libs.uow import unit_of_work
from libs.web import respond, snapshot
from services.triage import store
from services.triage.alerts import number_new_incidents
from services.triage.api.schemas import (
    Assign,
    Body,
    Empty,
    Hold,
    IncidentCreate,
    Note,
    Reason,
    Resolve,
    SetPriority,
)
from services.triage.api.state import RESPONDERS, STATE, incident_json, visible
from services.triage.domain import actions
from services.triage.domain.incident import Incident, IncidentRefused, assess, new_incident, priority
from services.triage.domain.rules import classify, route
from services.triage.events import incident_event, opened
from services.triage.store import TimelineEntry


def _check_assignee(request: web.Request, incident: Incident, assignee: str | None) -> None:
    if assignee is None:
        return
    staff = {p.user: p for p in snapshot(request).tokens.values() if p.has_role(RESPONDERS)}
    who = staff.get(assignee)
    if who is None or not who.can_see(incident.tenant):
        raise ApiError(422, "unknown_assignee", f"{assignee!r} is not provider staff who can work this incident")
    if who.tier is not None and who.tier < incident.tier:
        message = f"{assignee} works Tier {who.tier}; the incident is at Tier {incident.tier}"
        raise ApiError(422, "tier_too_low", message)


Act = Callable[[web.Request, Incident, Any, str, Any], actions.Done]


def refusal(exc: IncidentRefused | IllegalTransition) -> ApiError:
    """A domain refusal as the client sees it: an illegal move is a 409 listing the moves allowed."""
    if isinstance(exc, IllegalTransition):
        return ApiError(409, "illegal_transition", str(exc), [{"allowed": exc.allowed}])
    return ApiError(exc.status, exc.code, str(exc), exc.details)


def perform(act: Act, request: web.Request, incident: Incident, body: Any, by: str, at: Any) -> actions.Done:
    """One action on one incident; a refusal is an ApiError."""
    try:
        return act(request, incident, body, by, at)
    except (IncidentRefused, IllegalTransition) as exc:
        raise refusal(exc) from None


def action(model: type[Body], act: Act) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        st = request.app[STATE]
        who = authenticate(request, snapshot(request).tokens, roles=RESPONDERS)
        body = await read_body(request, model)
        try:
            async with unit_of_work(st.pool, st.outbox) as tx:
                incident = await visible(tx.conn, request.match_info["ref"], who, lock=True)
                now = utcnow()
                done = perform(act, request, incident, body, who.user, now)
                steps = [TimelineEntry(incident.id, now, kind, who.user, detail) for kind, detail in done.steps]
                await store.record_batch(tx.conn, incidents=[incident], timeline=steps)
                if incident.parent_id:  # resolving or reopening a child may settle its provider incident
                    await store.settle_provider_incidents(tx.conn, parents=[incident.parent_id], at=now)
                cid = request.headers.get("X-Request-Id")
                tx.emit(*[incident_event(k, incident, p, correlation_id=cid) for k, p in done.events])
        except asyncpg.UniqueViolationError:  # reopening while a newer incident holds the same dedup key
            raise ApiError(409, "superseded", "a newer open incident has the same dedup key; work that one") from None
        return respond(incident_json(incident, who))

    return handler


def _assign(request: web.Request, i: Incident, b: Assign, by: str, at: Any) -> actions.Done:
    _check_assignee(request, i, b.assignee)
    return actions.assign(i, by, at, b.assignee)


def _escalate(request: web.Request, i: Incident, b: Reason, by: str, at: Any) -> actions.Done:
    tiers = snapshot(request).config.tiers
    return actions.escalate(i, by, at, b.reason, tiers.get(i.assignee) if i.assignee else None)


# action -> (its body, what it does): the routes below, and the provider incident's actions (provider.py).
ACTS: dict[str, tuple[type[Body], Act]] = {
    "acknowledge": (Empty, lambda _r, i, _b, by, at: actions.acknowledge(i, by, at)),
    "start": (Empty, lambda _r, i, _b, by, at: actions.start(i, by, at)),
    "hold": (Hold, lambda _r, i, b, by, at: actions.hold(i, by, at, b.reason, b.comment)),
    "resume": (Empty, lambda _r, i, _b, by, at: actions.resume(i, by, at)),
    "resolve": (
        Resolve,
        lambda _r, i, b, by, at: actions.resolve(i, by, at, b.resolution_code, b.first_contact, b.note),
    ),
    "close": (Empty, lambda _r, i, _b, by, at: actions.close(i, by, at)),
    "reopen": (Reason, lambda _r, i, b, by, at: actions.reopen(i, by, at, b.reason)),
    "assign": (Assign, _assign),
    "escalate": (Reason, _escalate),
    "priority": (SetPriority, lambda _r, i, b, by, at: actions.set_priority(i, by, at, b.priority, b.reason)),
    "notes": (Note, lambda _r, i, b, by, at: actions.note(i, by, at, b.text, b.internal)),
}
ROUTES: dict[str, Any] = {
    name: operation(f"{name} (the incident's lifecycle, assignment, priority or notes)", body=model)(action(model, act))
    for name, (model, act) in ACTS.items()
}


def incident_by_hand(who: Principal, body: IncidentCreate, request: web.Request) -> Incident:
    """An incident (or service request) taken by phone, e-mail or the portal: priority from the given impact
    and urgency, else from the CI and severity, as for alerts."""
    tenant = snapshot(request).config.tenant(body.tenant)
    if tenant is None or not who.can_see(body.tenant):
        raise ApiError(404, "not_found", f"no tenant {body.tenant}")
    if body.ci is not None and body.ci not in tenant.ci_index:
        problem = {"field": "ci", "message": f"not one of {body.tenant}'s services", "type": "unknown_ci"}
        raise ApiError(422, "validation_failed", "the request body failed validation", [problem])
    severity, now = body.severity or "error", utcnow()
    impact, urgency, _, ci_category = assess(tenant, body.ci, severity, now)
    impact, urgency = body.impact or impact, body.urgency or urgency
    prio = priority(impact, urgency, tenant.contract_at(now))
    category = body.category or classify(tenant, ci_category, body.channel, body.labels)
    r = route(tenant, category, prio, body.ci, body.labels)
    return new_incident(
        tenant.id, title=body.title, at=now, impact=impact, urgency=urgency, priority=prio, source=body.channel,
        severity=severity, category=category, ci=body.ci, tier=r.tier, queue=r.queue, routing_rule=r.rule,
        occurrences=0, type=body.type, description=body.description, channel=body.channel,
    )  # fmt: skip


@operation("open an incident or service request by hand", body=IncidentCreate, ok=201)
async def create_incident(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens, roles=RESPONDERS)
    body = await read_body(request, IncidentCreate)
    incident = incident_by_hand(who, body, request)
    async with unit_of_work(st.pool, st.outbox) as tx:
        await number_new_incidents(tx.conn, [incident], snapshot(request).config)
        detail = {"type": incident.type, "channel": incident.channel, "routing_rule": incident.routing_rule}
        step = TimelineEntry(incident.id, incident.opened_at, "opened", who.user, detail)
        await store.record_batch(tx.conn, incidents=[incident], timeline=[step])
        cid = request.headers.get("X-Request-Id")
        tx.emit(incident_event("incident.opened", incident, opened(incident, None), correlation_id=cid))
    return respond(incident_json(incident, who), status=201)
