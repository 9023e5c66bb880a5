"""iCalendar feeds of a schedule's final shifts (RFC 5545, written with the `icalendar` library), for Google
Calendar, Outlook and Thunderbird to subscribe to. A calendar app sends no API token, so each feed URL carries
its own secret token (an HMAC of the schedule and user: domain/acklinks.feed_token); a wrong one is a 404, as
for a schedule that does not exist. Default range: two weeks back to eight weeks ahead, from today 00:00 UTC."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from libs.config import ScheduleRef
from libs.errors import ApiError
from libs.events import utcnow
from libs.openapi import operation
from libs.query import check_query
from libs.web import snapshot
from services.escalation.api.schedules import rendered, span
from services.escalation.api.state import STATE
from services.escalation.domain.acklinks import feed_token_ok
from services.escalation.domain.schedules import Shift

BACK, AHEAD = timedelta(days=14), timedelta(days=56)


def feed_span(request: web.Request) -> tuple[datetime, datetime]:
    """The range asked for (`from`, `to`, as for the shifts API), else the default one."""
    if "from" in request.query or "to" in request.query:
        return span(request, also=frozenset({"token"}))
    check_query(request, {"token", "from", "to"})
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - BACK, today + AHEAD


def calendar(ref: ScheduleRef, shifts: list[Shift], *, user: str | None, at: datetime) -> bytes:
    # Imported here, not at start: only this route writes iCalendar, and the library is ~2 MB of every
    # escalation process's memory (issue 17's budget) for a feed a calendar app fetches now and then.
    from icalendar import Calendar, Event

    s = ref.schedule
    cal = Calendar()
    cal.add("prodid", "-//Tierline//on-call//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"On call: {s.name}" + (f" ({user})" if user else ""))
    cal.add("x-wr-timezone", s.timezone)
    for shift in shifts:
        if user is not None and shift.user != user:
            continue
        event = Event()
        # Stable per shift, so a calendar app updates an event instead of adding it again on each refresh.
        event.add("uid", f"{s.id}-{shift.user}-{shift.start:%Y%m%dT%H%M%SZ}@tierline")
        event.add("dtstamp", at)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        by = f"override {shift.override_id}" if shift.override_id else f"layer {shift.layer}"
        event.add("summary", f"On call: {shift.user} ({s.name})" if user is None else f"On call: {s.name}")
        event.add("description", f"{shift.user} is on call for {s.name} ({s.id}) by {by}.")
        cal.add_component(event)
    return bytes(cal.to_ical())


@operation(
    "the schedule's iCalendar feed, behind its secret token",
    query={"token": None, "from": None, "to": None},
    media="text/calendar",
    public=True,
)
async def schedule_feed(request: web.Request) -> web.Response:
    return await _feed(request, None)


@operation(
    "one person's shifts as iCalendar, behind the feed token",
    query={"token": None, "from": None, "to": None},
    media="text/calendar",
    public=True,
)
async def user_feed(request: web.Request) -> web.Response:
    return await _feed(request, request.match_info["user"])


async def _feed(request: web.Request, user: str | None) -> web.Response:
    st = request.app[STATE]
    ref = snapshot(request).config.directory.schedules.get(request.match_info["schedule"])
    token = request.query.get("token", "")
    if ref is None or not feed_token_ok(token, st.oncall_secret, ref.schedule.id, ref.schedule.feed_rotation, user):
        raise ApiError(404, "not_found", "no such calendar feed")
    start, end = feed_span(request)
    shifts = await rendered(request, ref, start, end)
    body = calendar(ref, shifts, user=user, at=utcnow())
    name = f"{ref.schedule.id}{'-' + user if user else ''}.ics"
    headers = {"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, max-age=300"}
    return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers=headers)
