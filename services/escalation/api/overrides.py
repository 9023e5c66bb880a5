"""Overrides (managers and admins): one person on call over every layer of a schedule for a time range. Each
added or removed is an event on the ledger, committed with the change, and unacknowledged incidents paging the
schedule look again at once (the handoff worker pages whoever came on)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.auth import require_role
from libs.errors import ApiError, read_body
from libs.events import utcnow
from libs.openapi import operation
from libs.query import check_query
from libs.uow import unit_of_work
from libs.web import respond, snapshot
from services.escalation import events
from services.escalation.api.schedules import override_view
from services.escalation.api.state import MANAGERS, STATE, principal, visible_schedule
from services.escalation.store import escalation_runs, overrides
from services.escalation.store.overrides import OverrideRow

LONGEST = timedelta(days=62)


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: Annotated[str, Field(min_length=1, max_length=100)]
    start: AwareDatetime
    end: AwareDatetime
    note: Annotated[str, Field(max_length=500)] | None = None


def _refuse(field: str, message: str, kind: str) -> ApiError:
    detail = {"field": field, "message": message, "type": kind}
    return ApiError(422, "validation_failed", "the request body failed validation", [detail])


@operation("add an override (managers and admins)", body=OverrideCreate, ok=201)
async def add_override(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = principal(request)
    ref = visible_schedule(request, who)  # 404 before 403: another tenant's schedule is not there at all
    require_role(who, MANAGERS)
    body = await read_body(request, OverrideCreate)
    now = utcnow()
    if body.user not in snapshot(request).config.directory.known_users(ref.tenant):
        raise _refuse("user", f"not someone who can be on call for {ref.schedule.id}", "unknown_user")
    if body.end <= body.start:
        raise _refuse("end", "must be after start", "end_before_start")
    if body.end <= now:
        raise _refuse("end", "already over: an override changes who is on call now or later", "in_the_past")
    if body.end - body.start > LONGEST:
        raise _refuse("end", "an override lasts at most 62 days (change the layers for longer)", "too_long")
    row = OverrideRow(id=str(uuid.uuid4()), schedule=ref.schedule.id, tenant=ref.tenant, user=body.user,
                      start=body.start, end=body.end, note=body.note, created_by=who.user, created_at=now)  # fmt: skip
    async with unit_of_work(st.pool, st.outbox) as tx:
        await overrides.add(tx.conn, row)
        await escalation_runs.watching(tx.conn, schedule=ref.schedule.id)
        tx.emit(events.override_changed(row, removed=False, correlation_id=request.headers.get("X-Request-Id")))
    return respond(override_view(row), status=201)


@operation("overrides running or to come (managers and admins)")
async def list_overrides(request: web.Request) -> web.Response:
    """Overrides still running or to come, soonest first."""
    st = request.app[STATE]
    who = principal(request)
    ref = visible_schedule(request, who)
    require_role(who, MANAGERS)
    check_query(request, set())
    async with st.pool.acquire() as conn:
        rows = await overrides.live(conn, schedules=[ref.schedule.id], ending_after=utcnow())
    return respond({"items": [override_view(r) for r in sorted(rows, key=lambda r: (r.start, r.id))]})


@operation("remove an override (managers and admins)")
async def remove_override(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = principal(request)
    ref = visible_schedule(request, who)
    require_role(who, MANAGERS)
    oid = request.match_info["override_id"]
    async with unit_of_work(st.pool, st.outbox) as tx:
        row = await overrides.remove(tx.conn, schedule=ref.schedule.id, override_id=oid, by=who.user, at=utcnow())
        if row is None:
            raise ApiError(404, "not_found", f"no override {oid} on schedule {ref.schedule.id}")
        await escalation_runs.watching(tx.conn, schedule=ref.schedule.id)
        tx.emit(events.override_changed(row, removed=True, correlation_id=request.headers.get("X-Request-Id")))
    return respond({"removed": override_view(row) | {"removed_by": row.removed_by, "removed_at": row.removed_at}})
