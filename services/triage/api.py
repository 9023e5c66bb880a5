"""Triage's HTTP API: list, get (with timeline and alerts), acknowledge, resolve."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate
from libs.config import PRIORITIES, TierlineConfig
from libs.contracts import IncidentAcknowledged, IncidentResolved
from libs.errors import ApiError
from libs.events import Envelope, raise_event, utcnow
from libs.lifecycle import IllegalTransition
from libs.outbox import Outbox, run_command
from libs.query import check_query, limit_problems, tenant_scope
from libs.web import respond
from services.triage import store
from services.triage.domain import Incident, transition

RESPONDERS = {"provider_admin", "engineer"}
STATES = ("new", "acknowledged", "resolved")


@dataclass
class TriageState:
    pool: asyncpg.Pool
    outbox: Outbox
    config: TierlineConfig
    tokens: dict[str, Principal]


STATE: web.AppKey[TriageState] = web.AppKey("triage", TriageState)


def incident_json(i: Incident) -> dict[str, Any]:
    data = asdict(i)
    for k in ("is_new", "dirty"):
        data.pop(k)
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def _cursor(i: Incident) -> str:
    return base64.urlsafe_b64encode(f"{i.opened_at.isoformat()}|{i.id}".encode()).decode()


def _parse_cursor(raw: str) -> tuple[datetime, str]:
    try:
        at, iid = base64.urlsafe_b64decode(raw.encode()).decode().split("|")
        return datetime.fromisoformat(at), iid
    except Exception:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API returned") from None


async def list_incidents(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    q = request.query
    tenants = tenant_scope(who, st.config, q.get("tenant"))
    problems = limit_problems(limit := q.get("limit", "50"))
    if q.get("state") and q["state"] not in STATES:
        problems.append({"field": "state", "message": f"one of {', '.join(STATES)}"})
    if q.get("priority") and q["priority"] not in PRIORITIES:
        problems.append({"field": "priority", "message": "one of P1..P5"})
    if q.get("tier") and q["tier"] not in ("1", "2", "3"):
        problems.append({"field": "tier", "message": "1, 2 or 3"})
    check_query(request, {"tenant", "state", "priority", "tier", "limit", "cursor"}, problems)
    before = _parse_cursor(q["cursor"]) if q.get("cursor") else None
    async with st.pool.acquire() as conn:
        items = await store.list_incidents(
            conn,
            tenants=tenants,
            state=q.get("state"),
            priority=q.get("priority"),
            tier=int(q["tier"]) if q.get("tier") else None,
            before=before,
            limit=int(limit),
        )
    body: dict[str, Any] = {"items": [incident_json(i) for i in items]}
    body["next_cursor"] = _cursor(items[-1]) if len(items) == int(limit) else None
    return respond(body)


async def _visible(conn: asyncpg.Connection, ref: str, who: Principal, *, lock: bool = False) -> Incident:
    incident = await store.get_incident(conn, ref=ref, lock=lock)
    if incident is None or not who.can_see(incident.tenant):
        raise ApiError(404, "not_found", f"no incident {ref}")
    return incident


async def get_incident(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    async with st.pool.acquire() as conn:
        incident = await _visible(conn, request.match_info["ref"], who)
        timeline, alerts = await store.incident_details(conn, incident_id=incident.id)
    body = incident_json(incident) | {"timeline": timeline, "alerts": alerts}
    return respond(body)


async def _act(request: web.Request, action: str) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens, roles=RESPONDERS)
    ref = request.match_info["ref"]

    async def command(conn: asyncpg.Connection) -> tuple[Incident, list[Envelope]]:
        incident = await _visible(conn, ref, who, lock=True)
        try:
            incident.state = transition(incident.state, action)
        except IllegalTransition as exc:
            raise ApiError(409, "illegal_transition", str(exc), [{"allowed": exc.allowed}]) from None
        now = utcnow()
        if action == "acknowledge":
            incident.acknowledged_at = now
            payload: Any = IncidentAcknowledged(incident_id=incident.id, number=incident.number, by=who.user, at=now)
            kind = "incident.acknowledged"
        else:
            incident.resolved_at = now
            payload = IncidentResolved(
                incident_id=incident.id, number=incident.number, by=who.user, at=now, reason="manual"
            )
            kind = "incident.resolved"
        step = (incident.id, now, action + "d", who.user, {})
        await store.record_batch(conn, incidents=[incident], alerts=[], timeline=[step])
        env = raise_event(
            kind,
            payload,
            source="triage",
            tenant=incident.tenant,
            subject=incident.id,
            correlation_id=request.headers.get("X-Request-Id"),
        )
        return incident, [env]

    incident = await run_command(st.pool, st.outbox, command)
    assert isinstance(incident, Incident)
    return respond(incident_json(incident))


async def acknowledge(request: web.Request) -> web.Response:
    return await _act(request, "acknowledge")


async def resolve(request: web.Request) -> web.Response:
    return await _act(request, "resolve")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/incidents", list_incidents)
    app.router.add_get("/v1/incidents/{ref}", get_incident)
    app.router.add_post("/v1/incidents/{ref}/acknowledge", acknowledge)
    app.router.add_post("/v1/incidents/{ref}/resolve", resolve)
