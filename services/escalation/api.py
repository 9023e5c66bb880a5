"""Escalation's HTTP API: an incident's SLA clocks and escalation policy; notifications and their attempts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate
from libs.config import TierlineConfig
from libs.errors import ApiError
from libs.query import check_query, limit_problems, tenant_scope
from libs.web import respond
from services.escalation import store

NOTIFICATION_STATUSES = ("pending", "delivered", "dead")


@dataclass
class EscalationState:
    pool: asyncpg.Pool
    tokens: dict[str, Principal]
    config: TierlineConfig


STATE: web.AppKey[EscalationState] = web.AppKey("escalation", EscalationState)


def clock_view(r: asyncpg.Record, incident_id: str) -> dict[str, Any]:
    c = dict(r)
    c["incident_id"] = incident_id
    c["coverage"] = json.loads(c["coverage"])
    if c["coverage"].get("hours") == "24x7":  # business-hours fields mean nothing here; only confuse a reader
        c["coverage"] = {k: v for k, v in c["coverage"].items() if k not in ("days", "start", "end")}
    c["warn_at"] = list(c["warn_at"])
    if r["stopped_at"]:
        c["state"] = "stopped"
    elif r["breached_at"]:
        c["state"] = "breached"
    else:
        c["state"] = "paused" if r["paused_at"] else "running"
    c["met"] = None if not r["stopped_at"] else r["breached_at"] is None
    return c


async def incident_clocks(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    ref = request.match_info["incident_id"]
    # One snapshot: the clocks and the policy run as of the same commit.
    async with st.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await store.clocks_for(conn, ref=ref)
        if not rows or not who.can_see(rows[0]["tenant"]):
            raise ApiError(404, "not_found", f"no SLA clocks for incident {ref}")
        incident_id = str(rows[0]["incident_id"])
        runs = await store.runs(conn, incident_ids=[incident_id])
    body: dict[str, Any] = {"incident_id": incident_id, "clocks": [clock_view(r, incident_id) for r in rows]}
    if runs:
        run = runs[0]
        body["escalation"] = {
            "policy": run["policy"],
            "state": run["state"],
            "step": run["step"],
            "round": run["round"],
            "tier": run["tier"],
            "step_started_at": run["step_started_at"],
            "step_due_at": run["step_due_at"],
            "steps": json.loads(run["steps"]),
            "repeat": run["repeat"],
        }
    return respond(body)


async def notifications(request: web.Request) -> web.Response:
    """GET /v1/sla/notifications?tenant=&incident=&status=&limit=: newest first, each with every attempt."""
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    q = request.query
    problems = limit_problems(q.get("limit", "100"))
    if q.get("status") and q["status"] not in NOTIFICATION_STATUSES:
        problems.append({"field": "status", "message": f"one of {', '.join(NOTIFICATION_STATUSES)}"})
    check_query(request, {"tenant", "incident", "status", "limit"}, problems)
    tenants = tenant_scope(who, st.config, q.get("tenant"))
    async with st.pool.acquire() as conn:
        rows = await store.list_notifications(
            conn, tenants=tenants, incident=q.get("incident"), status=q.get("status"), limit=int(q.get("limit", "100"))
        )
    items = []
    for r in rows:
        item = dict(r)
        item["attempt_log"] = json.loads(r["attempt_log"]) if isinstance(r["attempt_log"], str) else r["attempt_log"]
        items.append(item)
    return respond({"items": items})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/sla/incidents/{incident_id}", incident_clocks)  # id or number
    app.router.add_get("/v1/sla/notifications", notifications)
