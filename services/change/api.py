"""Change's HTTP API: create, list, read, the calendar; the workflow's actions are in actions.py."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from libs.auth import Principal, authenticate
from libs.config import Tenant, TierlineConfig
from libs.errors import ApiError, read_json, validation_error
from libs.events import Envelope, utcnow
from libs.outbox import Outbox, run_command
from libs.query import Problems, check_query, limit_problems, tenant_scope
from libs.web import respond
from services.change import store
from services.change.domain.approvals import awaiting, board_for
from services.change.domain.changes import STATES, ChangeRefused, ChangeRequest
from services.change.domain.schedule import freezes_hit
from services.change.domain.workflow import open_change
from services.change.events import change_event
from services.change.schemas import ChangeCreate

REQUESTERS = {"provider_admin", "engineer", "change_manager"}
CALENDAR_SPAN = timedelta(days=366)


@dataclass
class ChangeState:
    pool: asyncpg.Pool
    outbox: Outbox
    config: TierlineConfig
    tokens: dict[str, Principal]

    def tenant(self, change: ChangeRequest) -> Tenant:
        tenant = self.config.tenant(change.tenant)
        if tenant is None:  # a tenant dropped from config: its changes can be read, not moved
            raise ApiError(409, "unknown_tenant", f"tenant {change.tenant} is no longer configured")
        return tenant


STATE: web.AppKey[ChangeState] = web.AppKey("change", ChangeState)


def change_json(c: ChangeRequest) -> dict[str, Any]:
    data = asdict(c)
    data.pop("votes")
    return data


async def detail_json(conn: asyncpg.Connection, c: ChangeRequest, tenant: Tenant | None) -> dict[str, Any]:
    """The detail view: votes, timeline, linked incidents, what it waits for, and the moves open to it."""
    links = await store.links(conn, change_id=c.id)
    data = change_json(c) | {
        "approvals": c.approvals,
        "votes": [asdict(v) for v in c.votes],
        "timeline": await store.timeline(conn, change_id=c.id),
        "incidents": [asdict(link) | {"counts_as_failed": link.counts_as_failed} for link in links],
        "allowed_actions": c.lifecycle.allowed(c.state),
    }
    if tenant and "approve" in c.lifecycle.allowed(c.state):
        data["awaiting"] = awaiting(c, board_for(tenant, c))
    return data


async def body_of(request: web.Request, model: type[BaseModel]) -> Any:
    raw = await read_json(request) if request.body_exists else {}  # no body: 422 lists what is required
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def refusal(exc: ChangeRefused) -> ApiError:
    return ApiError(exc.status, exc.code, str(exc), exc.details)


async def create_change(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens, roles=REQUESTERS)
    body: ChangeCreate = await body_of(request, ChangeCreate)
    tenant = st.config.tenant(body.tenant)
    if tenant is None or not who.can_see(tenant.id):
        raise ApiError(422, "validation_failed", "unknown tenant", [{"field": "tenant", "message": "unknown tenant"}])

    async def command(conn: asyncpg.Connection) -> tuple[dict[str, Any], list[Envelope]]:
        try:  # the rules run before a number is taken, so a refused request uses none
            change, step = open_change(tenant, body, id=str(uuid.uuid4()), number="", by=who.user, at=utcnow())
        except ChangeRefused as exc:
            raise refusal(exc) from None
        change.number = f"{tenant.code}-CHG-{await store.allocate_number(conn, tenant=tenant.id)}"
        await store.insert_change(conn, change=change)
        await store.add_timeline(conn, change_id=change.id, steps=[step])
        event = change_event(change, step, correlation_id=request.headers.get("X-Request-Id"))
        return await detail_json(conn, change, tenant), [event]

    return respond(await run_command(st.pool, st.outbox, command), status=201)


async def list_changes(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    q = request.query
    tenants = tenant_scope(who, st.config, q.get("tenant"))
    state, problems = q.get("state"), limit_problems(limit := q.get("limit", "50"))
    if state and state not in STATES:
        problems.append({"field": "state", "message": f"one of {', '.join(STATES)}"})
    check_query(request, {"tenant", "state", "limit"}, problems)
    async with st.pool.acquire() as conn:
        items = await store.list_changes(conn, tenants=tenants, state=state, limit=int(limit))
    return respond({"items": [change_json(c) for c in items]})


def _instant(raw: str | None, fallback: datetime, name: str, problems: Problems) -> datetime:
    if not raw:
        return fallback
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # an unencoded '+' arrives as a space
    except ValueError:
        problems.append({"field": name, "message": "an ISO 8601 date or datetime, e.g. 2026-12-01"})
        return fallback
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def calendar(request: web.Request) -> web.Response:
    """Every change whose planned window or actual implementation overlaps [from, to), the unmanaged changes
    tools reported in it, and the freezes it touches. Default: 31 days from today (UTC)."""
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    q = request.query
    tenants = tenant_scope(who, st.config, q.get("tenant"))
    problems = limit_problems(limit := q.get("limit", "500"), most=2000)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = _instant(q.get("from"), today, "from", problems)
    end = _instant(q.get("to"), start + timedelta(days=31), "to", problems)
    if not problems and not start < end <= start + CALENDAR_SPAN:
        problems.append({"field": "to", "message": "after from, and at most 366 days after it"})
    check_query(request, {"tenant", "from", "to", "limit"}, problems)
    async with st.pool.acquire() as conn:
        managed, unmanaged = await store.calendar(conn, tenants=tenants, start=start, end=end, limit=int(limit))
    items = [
        {"kind": "managed", "start": c.planned_start, "end": c.planned_end}
        | {k: v for k, v in change_json(c).items() if k not in ("planned_start", "planned_end", "overrides")}
        for c in managed
    ] + [{"kind": "unmanaged", "start": u["at"], "end": None} | dict(u) for u in unmanaged]
    items.sort(key=lambda i: (i["start"], i.get("number") or i.get("signal_id")))
    in_scope = [t for t in st.config.tenants if tenants is None or t.id in tenants]
    freezes = [
        {"tenant": t.id, "name": f.name, "start": f.start, "end": f.end, "cis": f.cis}
        for t in in_scope
        for f in freezes_hit(t, [s.id for s in t.services], start, end)
    ]
    return respond({"from": start, "to": end, "items": items, "freezes": freezes})


async def visible(conn: asyncpg.Connection, ref: str, who: Principal, *, lock: bool = False) -> ChangeRequest:
    change = await store.get_change(conn, ref=ref, lock=lock)
    if change is None or not who.can_see(change.tenant):
        raise ApiError(404, "not_found", f"no change {ref}")
    return change


async def get_change(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    # One snapshot: the change, its votes, timeline and links as of the same commit.
    async with st.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        change = await visible(conn, request.match_info["ref"], who)
        return respond(await detail_json(conn, change, st.config.tenant(change.tenant)))
