"""What escalation's HTTP handlers share: the app state and the walls around schedules."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate
from libs.config import ScheduleRef
from libs.errors import ApiError
from libs.outbox import Outbox
from libs.web import Origin, snapshot

MANAGERS = {"manager", "admin"}  # who sees a schedule's layers and feeds, and adds or removes overrides


@dataclass
class EscalationState:
    """Tokens and config come from the request's config snapshot (libs.web.snapshot), never from here."""

    pool: asyncpg.Pool
    outbox: Outbox
    oncall_secret: str  # the key feed tokens are derived from
    origin: Origin  # the base URL for links people open from outside (feeds, acknowledge links)


STATE: web.AppKey[EscalationState] = web.AppKey("escalation", EscalationState)


def may_see(who: Principal, ref: ScheduleRef) -> bool:
    """A tenant's schedule: whoever may see that tenant. A provider schedule: provider staff only."""
    return who.tenant is None if ref.tenant is None else who.can_see(ref.tenant)


def visible_schedule(request: web.Request, who: Principal) -> ScheduleRef:
    """The schedule in the path, or 404 whether it exists or not (tenants are walls)."""
    schedule_id = request.match_info["schedule"]
    ref = snapshot(request).config.directory.schedules.get(schedule_id)
    if ref is None or not may_see(who, ref):
        raise ApiError(404, "not_found", f"no schedule {schedule_id}")
    return ref


def principal(request: web.Request) -> Principal:
    """The caller, by the tokens of the request's config version (401 without a known token)."""
    return authenticate(request, snapshot(request).tokens)
