"""Escalation's HTTP API: an incident's SLA clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate
from libs.errors import ApiError
from services.escalation import store


@dataclass
class EscalationState:
    pool: asyncpg.Pool
    tokens: dict[str, Principal]


STATE: web.AppKey[EscalationState] = web.AppKey("escalation", EscalationState)


async def incident_clocks(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    ref = request.match_info["incident_id"]
    async with st.pool.acquire() as conn:
        rows = await store.clocks_for(conn, ref=ref)
    if not rows or not who.can_see(rows[0]["tenant"]):
        raise ApiError(404, "not_found", f"no SLA clocks for incident {ref}")
    incident_id = str(rows[0]["incident_id"])
    clocks = []
    for r in rows:
        c = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(r).items()}
        c["incident_id"] = incident_id
        c["state"] = "stopped" if r["stopped_at"] else ("breached" if r["breached_at"] else "running")
        c["met"] = None if not r["stopped_at"] else r["breached_at"] is None
        clocks.append(c)
    return web.json_response({"incident_id": incident_id, "clocks": clocks})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/sla/incidents/{incident_id}", incident_clocks)  # id or number
