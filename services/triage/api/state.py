"""What triage's HTTP handlers share: the app state, the incident as JSON, and the tenant wall."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from libs.auth import Principal
from libs.errors import ApiError
from libs.outbox import Outbox
from services.triage import store
from services.triage.domain.incident import Incident, available_actions

RESPONDERS = {"agent", "manager", "admin"}  # who works incidents (with their older names engineer, provider_admin)


@dataclass
class TriageState:
    pool: asyncpg.Pool
    outbox: Outbox


STATE: web.AppKey[TriageState] = web.AppKey("triage", TriageState)


def incident_json(i: Incident, who: Principal) -> dict[str, Any]:
    """The incident as the API shows it to `who`: `allowed_actions` are what this caller may do now (none for
    a client's read-only token), so a console shows exactly those buttons."""
    data = asdict(i)
    for k in ("is_new", "dirty", "seq"):
        data.pop(k)
    data["first_seen"] = i.opened_at
    data["allowed_actions"] = available_actions(i) if who.has_role(RESPONDERS) else []
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


async def visible(conn: asyncpg.Connection, ref: str, who: Principal, *, lock: bool = False) -> Incident:
    """The incident by id or number, if this token may see it; else 404, the same as for one that does not exist."""
    incident = await store.get_incident(conn, ref=ref, lock=lock)
    if incident is None or not who.can_see(incident.tenant):
        raise ApiError(404, "not_found", f"no incident {ref}")
    return incident
