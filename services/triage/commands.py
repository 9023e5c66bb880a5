"""Triage's HTTP commands: create an incident or request by hand, and every lifecycle action on one.

Each command authenticates, validates its body (400/422 change nothing), finds the incident the token may
see (404 otherwise, exactly as for an id that does not exist), applies a pure action and commits the
incident, its timeline entries and its events in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.auth import Principal, authenticate
from libs.config import Category, Level, Priority
from libs.contracts import HoldReason, Severity
from libs.errors import ApiError, read_json, validation_error
from libs.events import Envelope, utcnow
from libs.lifecycle import IllegalTransition
from libs.outbox import run_command
from libs.web import respond
from services.triage import actions, store
from services.triage.domain import Incident, assess, priority
from services.triage.events import incident_event, opened
from services.triage.rules import classify, route
from services.triage.state import RESPONDERS, STATE, incident_json, visible

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Body):
    pass


class IncidentCreate(Body):
    tenant: str
    type: Literal["incident", "request"] = "incident"
    title: Annotated[str, Field(min_length=1, max_length=1024)]
    description: Annotated[str, Field(max_length=20000)] | None = None
    channel: Literal["phone", "email", "portal", "chat", "walk_in"] = "phone"
    ci: str | None = None
    severity: Severity | None = None
    impact: Level | None = None
    urgency: Level | None = None
    category: Category | None = None
    labels: dict[str, str] = {}


class Assign(Body):
    assignee: str | None


class Reason(Body):
    reason: Text


class Hold(Body):
    reason: HoldReason
    comment: Text | None = None


class Resolve(Body):
    resolution_code: Literal[actions.RESOLUTION_CODES] = "solved"  # type: ignore[valid-type]
    first_contact: bool = False
    note: Text | None = None


class SetPriority(Body):
    priority: Priority
    reason: Text


class Note(Body):
    text: Annotated[str, Field(min_length=1, max_length=20000)]
    internal: bool = True  # a work note; false: a comment the client's own tokens see too


async def body_of(request: web.Request, model: type[Body]) -> Any:
    raw = await read_json(request) if request.can_read_body else {}
    if not isinstance(raw, dict):
        raise ApiError(422, "validation_failed", "the request body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _check_assignee(request: web.Request, incident: Incident, assignee: str | None) -> None:
    if assignee is None:
        return
    staff = {p.user: p for p in request.app[STATE].tokens.values() if p.has_role(RESPONDERS)}
    who = staff.get(assignee)
    if who is None or not who.can_see(incident.tenant):
        raise ApiError(422, "unknown_assignee", f"{assignee!r} is not provider staff who can work this incident")
    if who.tier is not None and who.tier < incident.tier:
        message = f"{assignee} works Tier {who.tier}; the incident is at Tier {incident.tier}"
        raise ApiError(422, "tier_too_low", message)


Act = Callable[[web.Request, Incident, Any, str, Any], actions.Done]


def perform(act: Act, request: web.Request, incident: Incident, body: Any, by: str, at: Any) -> actions.Done:
    """One action on one incident; a refusal is an ApiError (an illegal move: 409 with the allowed ones)."""
    try:
        return act(request, incident, body, by, at)
    except IllegalTransition as exc:
        raise ApiError(409, "illegal_transition", str(exc), [{"allowed": exc.allowed}]) from None


def action(model: type[Body], act: Act) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        st = request.app[STATE]
        who = authenticate(request, st.tokens, roles=RESPONDERS)
        body = await body_of(request, model)
        ref = request.match_info["ref"]

        async def command(conn: asyncpg.Connection) -> tuple[Incident, list[Envelope]]:
            incident = await visible(conn, ref, who, lock=True)
            now = utcnow()
            done = perform(act, request, incident, body, who.user, now)
            steps = [(incident.id, now, kind, who.user, detail) for kind, detail in done.steps]
            await store.record_batch(conn, incidents=[incident], timeline=steps)
            if incident.parent_id:  # resolving or reopening a child may settle its provider incident
                await store.settle_provider_incidents(conn, parents=[incident.parent_id], at=now)
            cid = request.headers.get("X-Request-Id")
            return incident, [incident_event(k, incident, p, correlation_id=cid) for k, p in done.events]

        try:
            incident = await run_command(st.pool, st.outbox, command)
        except asyncpg.UniqueViolationError:  # reopening while a newer incident holds the same dedup key
            raise ApiError(409, "superseded", "a newer open incident has the same dedup key; work that one") from None
        assert isinstance(incident, Incident)
        return respond(incident_json(incident, who))

    return handler


def _assign(request: web.Request, i: Incident, b: Assign, by: str, at: Any) -> actions.Done:
    _check_assignee(request, i, b.assignee)
    return actions.assign(i, by, at, b.assignee)


def _escalate(request: web.Request, i: Incident, b: Reason, by: str, at: Any) -> actions.Done:
    tiers = request.app[STATE].config.tiers
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
ROUTES: dict[str, Any] = {name: action(model, act) for name, (model, act) in ACTS.items()}


def new_incident(who: Principal, body: IncidentCreate, request: web.Request) -> Incident:
    """An incident (or service request) taken by phone, e-mail or the portal: priority from the given impact
    and urgency, else from the CI and severity, as for alerts."""
    tenant = request.app[STATE].config.tenant(body.tenant)
    if tenant is None or not who.can_see(body.tenant):
        raise ApiError(404, "not_found", f"no tenant {body.tenant}")
    if body.ci is not None and body.ci not in tenant.ci_index:
        problem = {"field": "ci", "message": f"not one of {body.tenant}'s services", "type": "unknown_ci"}
        raise ApiError(422, "validation_failed", "the request body failed validation", [problem])
    severity = body.severity or "error"
    impact, urgency, _, ci_category = assess(tenant, body.ci, severity)
    impact, urgency = body.impact or impact, body.urgency or urgency
    prio = priority(impact, urgency, tenant)
    category = body.category or classify(tenant, ci_category, body.channel, body.labels)
    r = route(tenant, category, prio, body.ci, body.labels)
    now = utcnow()
    return Incident(
        id=str(uuid.uuid4()), tenant=tenant.id, title=body.title, state="new", priority=prio, impact=impact,
        urgency=urgency, category=category, ci=body.ci, tier=r.tier, queue=r.queue, routing_rule=r.rule,
        dedup_key=None, source=body.channel, severity=severity, occurrences=0, opened_at=now, last_seen=now,
        type=body.type, description=body.description, channel=body.channel, is_new=True, dirty=True,
    )  # fmt: skip


async def create_incident(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens, roles=RESPONDERS)
    body = await body_of(request, IncidentCreate)
    incident = new_incident(who, body, request)

    async def command(conn: asyncpg.Connection) -> tuple[Incident, list[Envelope]]:
        first = (await store.allocate_numbers(conn, counts={incident.tenant: 1}))[incident.tenant]
        incident.number, incident.seq = f"{st.config.tenants_by_id[incident.tenant].code}-{first}", first
        detail = {"type": incident.type, "channel": incident.channel, "routing_rule": incident.routing_rule}
        await store.record_batch(conn, incidents=[incident], timeline=[(incident.id, incident.opened_at, "opened",
                                                                        who.user, detail)])  # fmt: skip
        cid = request.headers.get("X-Request-Id")
        return incident, [incident_event("incident.opened", incident, opened(incident, None), correlation_id=cid)]

    await run_command(st.pool, st.outbox, command)
    return respond(incident_json(incident, who), status=201)
