"""Raising, listing and reading changes, and the calendar; the workflow's moves are in moves.py."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import timedelta

from aiohttp import web

from libs.auth import authenticate
from libs.errors import ApiError, read_body
from libs.events import utcnow
from libs.openapi import operation
from libs.query import check_query, instant_param, limit_problems, tenant_scope
from libs.uow import unit_of_work
from libs.web import respond, snapshot
from services.change import store
from services.change.api.context import REQUESTERS, STATE, refusal, visible
from services.change.api.schemas import ChangeCreate
from services.change.api.views import change_json, detail_json
from services.change.domain.changes import STATES, ChangeRefused
from services.change.domain.schedule import freezes_hit
from services.change.domain.workflow import open_change
from services.change.events import change_event

CALENDAR_SPAN = timedelta(days=366)


@operation("raise a change request (standard from a template, normal, emergency)", body=ChangeCreate, ok=201)
async def create_change(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens, roles=REQUESTERS)
    body: ChangeCreate = await read_body(request, ChangeCreate)
    tenant = snapshot(request).config.tenant(body.tenant)
    if tenant is None or not who.can_see(tenant.id):
        raise ApiError(422, "validation_failed", "unknown tenant", [{"field": "tenant", "message": "unknown tenant"}])
    try:  # the rules run before a number is taken, so a refused request uses none
        change, step = open_change(tenant, body, id=str(uuid.uuid4()), number="", by=who.user, at=utcnow())
    except ChangeRefused as exc:
        raise refusal(exc) from None
    async with unit_of_work(st.pool, st.outbox) as tx:
        change.number = f"{tenant.code}-CHG-{await store.allocate_number(tx.conn, tenant=tenant.id)}"
        await store.insert_change(tx.conn, change=change)
        await store.add_timeline(tx.conn, change_id=change.id, steps=[step])
        tx.emit(change_event(change, step, correlation_id=request.headers.get("X-Request-Id")))
        detail = await detail_json(tx.conn, change, tenant)
    return respond(detail, status=201)


@operation("change requests, newest first", query={"tenant": None, "state": tuple(STATES), "limit": None})
async def list_changes(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    q = request.query
    tenants = tenant_scope(who, snapshot(request).config, q.get("tenant"))
    state, problems = q.get("state"), limit_problems(limit := q.get("limit", "50"))
    if state and state not in STATES:
        problems.append({"field": "state", "message": f"one of {', '.join(STATES)}"})
    check_query(request, {"tenant", "state", "limit"}, problems)
    async with st.pool.acquire() as conn:
        items = await store.list_changes(conn, tenants=tenants, state=state, limit=int(limit))
    return respond({"items": [change_json(c) for c in items]})


@operation(
    "changes planned or worked on in a range, and the freezes",
    query={"tenant": None, "from": None, "to": None, "limit": None},
)
async def calendar(request: web.Request) -> web.Response:
    """Every change whose planned window or actual implementation overlaps [from, to), the unmanaged changes
    tools reported in it, and the freezes it touches. Default: 31 days from today (UTC)."""
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    q = request.query
    tenants = tenant_scope(who, snapshot(request).config, q.get("tenant"))
    problems = limit_problems(limit := q.get("limit", "500"), most=2000)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = instant_param(q.get("from"), today, "from", problems)
    end = instant_param(q.get("to"), start + timedelta(days=31), "to", problems)
    if not problems and not start < end <= start + CALENDAR_SPAN:
        problems.append({"field": "to", "message": "after from, and at most 366 days after it"})
    check_query(request, {"tenant", "from", "to", "limit"}, problems)
    async with st.pool.acquire() as conn:
        managed, unmanaged = await store.calendar(conn, tenants=tenants, start=start, end=end, limit=int(limit))
    items = [
        {"kind": "managed", "start": c.planned_start, "end": c.planned_end}
        | {k: v for k, v in change_json(c).items() if k not in ("planned_start", "planned_end", "overrides")}
        for c in managed
    ] + [{"kind": "unmanaged", "start": u.at, "end": None} | asdict(u) for u in unmanaged]
    items.sort(key=lambda i: (i["start"], i.get("number") or i.get("signal_id")))
    in_scope = [t for t in snapshot(request).config.tenants if tenants is None or t.id in tenants]
    freezes = [
        {"tenant": t.id, "name": f.name, "start": f.start, "end": f.end, "cis": f.cis}
        for t in in_scope
        for f in freezes_hit(t, [s.id for s in t.services], start, end)
    ]
    return respond({"from": start, "to": end, "items": items, "freezes": freezes})


@operation("one change with its votes, timeline and linked incidents")
async def get_change(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    # One snapshot: the change, its votes, timeline and links as of the same commit.
    async with st.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        change = await visible(conn, request.match_info["ref"], who)
        return respond(await detail_json(conn, change, snapshot(request).config.tenant(change.tenant)))
