"""Schedules: the list with who is on call now, one schedule (managers see its layers, overrides and feed
URLs; others its public view), who is on call at a moment, and the final shifts of a range."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from libs.auth import Principal
from libs.config import ScheduleRef
from libs.events import utcnow
from libs.openapi import operation
from libs.query import check_query, instant_param
from libs.web import respond, snapshot
from services.escalation.api.state import MANAGERS, STATE, may_see, principal, visible_schedule
from services.escalation.domain.acklinks import feed_token
from services.escalation.domain.schedules import Override, Shift, final_shifts, next_handoff, on_call
from services.escalation.store import overrides
from services.escalation.store.overrides import OverrideRow

MAX_SPAN = timedelta(days=93)


def shift_view(s: Shift | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"user": s.user, "start": s.start, "end": s.end, "layer": s.layer, "override_id": s.override_id}


def override_view(o: OverrideRow) -> dict[str, Any]:
    return {"id": o.id, "schedule": o.schedule, "user": o.user, "start": o.start, "end": o.end, "note": o.note,
            "created_by": o.created_by, "created_at": o.created_at}  # fmt: skip


def feed_urls(request: web.Request, ref: ScheduleRef) -> dict[str, Any]:
    """The schedule's iCalendar URL and one per user, each with its own secret token."""
    st = request.app[STATE]
    s, base = ref.schedule, f"{st.origin.url or ''}/v1/schedules/{ref.schedule.id}"
    users = sorted({u for layer in s.layers for u in layer.users})
    return {
        "ics_url": f"{base}.ics?token={feed_token(st.oncall_secret, s.id, s.feed_rotation)}",
        "user_ics_urls": {
            u: f"{base}/users/{u}.ics?token={feed_token(st.oncall_secret, s.id, s.feed_rotation, u)}" for u in users
        },
    }


def summary(ref: ScheduleRef, found: list[Override], at: datetime) -> dict[str, Any]:
    s = ref.schedule
    return {
        "id": s.id, "name": s.name, "tenant": ref.tenant, "timezone": s.timezone,
        "on_call": shift_view(on_call(s, found, at)), "next_handoff_at": next_handoff(s, found, at),
    }  # fmt: skip


def _at(request: web.Request) -> datetime:
    problems: list[dict[str, str]] = []
    at = instant_param(request.query.get("at"), utcnow(), "at", problems)
    check_query(request, {"at"}, problems)
    return at


@operation("on-call schedules the token may see, who is on call", query={"at": None})
async def list_schedules(request: web.Request) -> web.Response:
    """GET /v1/schedules?at=: every schedule the token may see, with who is on call at `at` (default now)."""
    st = request.app[STATE]
    who = principal(request)
    at = _at(request)
    refs = [r for r in snapshot(request).config.directory.schedules.values() if may_see(who, r)]
    async with st.pool.acquire() as conn:
        found = await overrides.by_schedule(conn, schedules=[r.schedule.id for r in refs], ending_after=at)
    return respond({"at": at, "items": [summary(r, found[r.schedule.id], at) for r in refs]})


@operation("one schedule (managers also see layers, overrides, feeds)", query={"at": None})
async def get_schedule(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = principal(request)
    ref = visible_schedule(request, who)
    at = _at(request)
    async with st.pool.acquire() as conn:
        rows = await overrides.live(conn, schedules=[ref.schedule.id], ending_after=at)
    body = summary(ref, [r.override for r in rows], at)
    if _manages(who):
        s = ref.schedule
        body["layers"] = [
            {"name": layer.name, "users": layer.users, "rotation": {"length_s": layer.rotation.length.total_seconds()},
             "start": layer.start.isoformat(), "restrictions": [r.model_dump(mode="json") for r in layer.restrictions]}
            for layer in s.layers
        ]  # fmt: skip
        body |= {"fallback": s.fallback, "overrides": [override_view(r) for r in rows], **feed_urls(request, ref)}
    return respond(body)


def _manages(who: Principal) -> bool:
    return who.tenant is None and who.has_role(MANAGERS)


@operation("who is on call at a moment", query={"at": None})
async def who_is_on_call(request: web.Request) -> web.Response:
    """GET /v1/schedules/{id}/oncall?at=: who, from when to when, by which layer or override (null: a gap)."""
    st = request.app[STATE]
    ref = visible_schedule(request, principal(request))
    at = _at(request)
    async with st.pool.acquire() as conn:
        found = await overrides.by_schedule(conn, schedules=[ref.schedule.id], ending_after=at - MAX_SPAN)
    return respond({"schedule": ref.schedule.id, "at": at} | summary(ref, found[ref.schedule.id], at))


def span(request: web.Request, *, also: frozenset[str] = frozenset()) -> tuple[datetime, datetime]:
    """`from` and `to` of a range query (default: this week from today 00:00 UTC), at most 93 days long."""
    problems: list[dict[str, str]] = []
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    start = instant_param(request.query.get("from"), today, "from", problems)
    end = instant_param(request.query.get("to"), start + timedelta(days=7), "to", problems)
    if not problems and not start < end <= start + MAX_SPAN:
        problems.append({"field": "to", "message": "after `from`, and at most 93 days after it"})
    check_query(request, {"from", "to"} | also, problems)
    return start, end


async def rendered(request: web.Request, ref: ScheduleRef, start: datetime, end: datetime) -> list[Shift]:
    st = request.app[STATE]
    async with st.pool.acquire() as conn:
        found = await overrides.by_schedule(conn, schedules=[ref.schedule.id], ending_after=start)
    return final_shifts(ref.schedule, found[ref.schedule.id], start, end)


@operation("the final shifts of a range", query={"from": None, "to": None})
async def shifts(request: web.Request) -> web.Response:
    """GET /v1/schedules/{id}/shifts?from=&to=: the final schedule, gaps left out."""
    ref = visible_schedule(request, principal(request))
    start, end = span(request)
    found = await rendered(request, ref, start, end)
    body = {"schedule": ref.schedule.id, "timezone": ref.schedule.timezone, "from": start, "to": end}
    return respond(body | {"shifts": [shift_view(s) for s in found]})
