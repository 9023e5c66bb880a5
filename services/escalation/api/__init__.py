"""Escalation's HTTP API: SLA clocks and notifications (sla.py); on-call schedules, who is on call and the final
shifts (schedules.py), overrides (overrides.py), iCalendar feeds (feeds.py), and the acknowledge links pages
carry (ack.py)."""

from __future__ import annotations

from aiohttp import web

from services.escalation.api import ack, feeds, overrides, schedules, sla
from services.escalation.api.state import STATE, EscalationState

SCHEDULE = "/v1/schedules/{schedule:[a-z0-9][a-z0-9-]*}"  # no dots: `noc.ics` is the feed, not a schedule


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/sla/incidents/{incident_id}", sla.incident_clocks)  # id or number
    r.add_get("/v1/sla/notifications", sla.notification_log)
    r.add_get("/v1/schedules", schedules.list_schedules)
    r.add_get(SCHEDULE, schedules.get_schedule)
    r.add_get(f"{SCHEDULE}.ics", feeds.schedule_feed)
    r.add_get(f"{SCHEDULE}/users/{{user}}.ics", feeds.user_feed)
    r.add_get(f"{SCHEDULE}/oncall", schedules.who_is_on_call)
    r.add_get(f"{SCHEDULE}/shifts", schedules.shifts)
    r.add_get(f"{SCHEDULE}/overrides", overrides.list_overrides)
    r.add_post(f"{SCHEDULE}/overrides", overrides.add_override)
    r.add_delete(f"{SCHEDULE}/overrides/{{override_id}}", overrides.remove_override)
    r.add_get("/v1/ack/{token}", ack.confirm_page)
    r.add_post("/v1/ack/{token}", ack.act)


__all__ = ["STATE", "EscalationState", "add_routes"]
