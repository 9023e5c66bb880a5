"""Triage's HTTP reads: list and read incidents, and the alerts suppressed during change windows."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from libs.auth import authenticate
from libs.config import PRIORITIES
from libs.errors import ApiError
from libs.openapi import operation
from libs.query import check_query, limit_problems, tenant_scope
from libs.web import respond, snapshot
from services.triage import store
from services.triage.api.state import STATE, incident_json, visible
from services.triage.domain.incident import STATES, Incident

CATEGORIES = ("infrastructure", "network", "security", "cloud", "end-user", "data", "compliance")
BOOLEAN = {"true": True, "false": False}


def _cursor(sort: str, i: Incident) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, *store.sort_key(sort, i)]).encode()).decode()


def _parse_cursor(raw: str, sort: str) -> list[Any]:
    """The key a cursor carries; one from another sort, or not one this API returned, is a 400."""
    try:
        got = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except Exception:
        got = None
    if not isinstance(got, list) or not got or got[0] != sort or not store.valid_key(sort, got[1:]):
        raise ApiError(400, "invalid_cursor", f"the cursor is not one this API returned for sort={sort}")
    return got[1:]


# query parameter -> (allowed values or None for free text, how to read it)
_FILTERS: dict[str, tuple[tuple[str, ...] | None, Any]] = {
    "state": (("open", *STATES), str),  # open: new, acknowledged, in progress or on hold (a queue)
    "priority": (PRIORITIES, str),
    "tier": (("1", "2", "3"), int),
    "category": (CATEGORIES, str),
    "type": (("incident", "request"), str),
    "breached": (("true", "false"), BOOLEAN.get),
    "at_risk": (("true", "false"), BOOLEAN.get),
    "assignee": (None, lambda v: None if v == "none" else v),
    "queue": (None, str),
}


@operation(
    "incidents, newest first (or by sort), a page at a time",
    query={
        "tenant": None,
        "limit": None,
        "cursor": None,
        "sort": tuple(store.SORTS),
        **{n: a for n, (a, _) in _FILTERS.items()},
    },
)
async def list_incidents(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    q = request.query
    tenants = tenant_scope(who, snapshot(request).config, q.get("tenant"))
    problems = limit_problems(limit := q.get("limit", "50"))
    filters: dict[str, Any] = {}
    for name, (allowed, read) in _FILTERS.items():
        if name not in q:
            continue
        if allowed is not None and q[name] not in allowed:
            problems.append({"field": name, "message": f"one of {', '.join(allowed)}"})
        else:
            filters[name] = read(q[name])
    sort = q.get("sort", "opened")
    if sort not in store.SORTS:
        problems.append({"field": "sort", "message": f"one of {', '.join(store.SORTS)}"})
    check_query(request, {"tenant", "limit", "cursor", "sort", *_FILTERS}, problems)
    after = _parse_cursor(q["cursor"], sort) if q.get("cursor") else None
    async with st.pool.acquire() as conn:
        items = await store.list_incidents(
            conn, tenants=tenants, filters=filters, sort=sort, after=after, limit=int(limit)
        )
    body: dict[str, Any] = {"items": [incident_json(i, who) for i in items]}
    body["next_cursor"] = _cursor(sort, items[-1]) if len(items) == int(limit) else None
    return respond(body)


@operation("one incident with its timeline, alerts and allowed actions")
async def get_incident(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    # One snapshot for the incident, its timeline and its alerts: read apart, a batch committing in between
    # showed four alerts on an incident still saying occurrences 1.
    async with st.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        incident = await visible(conn, request.match_info["ref"], who)
        timeline, alerts = await store.incident_details(conn, incident_id=incident.id)
    if who.tenant is not None:  # a client's own token does not see the provider's work notes
        timeline = [t for t in timeline if not (t["kind"] == "note" and t["detail"].get("internal"))]
    body = incident_json(incident, who) | {"timeline": timeline, "alerts": alerts}
    return respond(body)


@operation("alerts that arrived during a change or maintenance window", query={"tenant": None, "limit": None})
async def suppressed_alerts(request: web.Request) -> web.Response:
    """Alerts that arrived during a change or maintenance window: recorded, paging nobody."""
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    tenants = tenant_scope(who, snapshot(request).config, request.query.get("tenant"))
    problems = limit_problems(limit := request.query.get("limit", "50"))
    check_query(request, {"tenant", "limit"}, problems)
    async with st.pool.acquire() as conn:
        items = await store.suppressed_alerts(conn, tenants=tenants, limit=int(limit))
    return respond({"items": items})
