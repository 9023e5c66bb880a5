"""An incident's SLA clocks and escalation policy (with who its schedules had on call); notifications and their
attempts, pages to people among them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from libs.auth import authenticate
from libs.errors import ApiError
from libs.openapi import operation
from libs.query import check_query, limit_problems, tenant_scope
from libs.web import respond, snapshot
from services.escalation.api.state import STATE
from services.escalation.domain.clock import SlaClock
from services.escalation.domain.run import EscalationRun
from services.escalation.store import escalation_runs, notifications, sla_clocks

NOTIFICATION_STATUSES = ("pending", "delivered", "dead", "cancelled")


def clock_view(clock: SlaClock) -> dict[str, Any]:
    """The clock as stored, with its state in words and whether it met its target (once stopped)."""
    c = {name: getattr(clock, name) for name in sla_clocks.COLUMNS}
    if c["coverage"].get("hours") == "24x7":  # business-hours fields mean nothing here; only confuse a reader
        c["coverage"] = {k: v for k, v in c["coverage"].items() if k not in ("days", "start", "end")}
    c["warn_at"] = list(clock.warn_at)
    if clock.stopped_at:
        c["state"] = "stopped"
    elif clock.breached_at:
        c["state"] = "breached"
    else:
        c["state"] = "paused" if clock.paused_at else "running"
    c["met"] = None if not clock.stopped_at else clock.breached_at is None
    return c


def run_view(run: EscalationRun) -> dict[str, Any]:
    return {
        "policy": run.policy,
        "state": run.state,
        "step": run.step,
        "round": run.round,
        "tier": run.tier,
        "step_started_at": run.step_started_at,
        "step_due_at": run.step_due_at,
        "steps": [s.snapshot() for s in run.steps],
        "repeat": run.repeat,
        "on_call": run.on_call,  # each schedule the step pages: who was on call when last looked at (None: a gap)
        "next_handoff_at": run.handoff_at,
    }


@operation("an incident's SLA clocks and escalation position (id or number)")
async def incident_clocks(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    ref = request.match_info["incident_id"]
    # One snapshot: the clocks and the policy run as of the same commit.
    async with st.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        clocks = await sla_clocks.find(conn, ref=ref)
        if not clocks or not who.can_see(clocks[0].tenant):
            raise ApiError(404, "not_found", f"no SLA clocks for incident {ref}")
        incident_id = clocks[0].incident_id
        runs = await escalation_runs.find(conn, incident_ids=[incident_id])
    body: dict[str, Any] = {"incident_id": incident_id, "clocks": [clock_view(c) for c in clocks]}
    if runs:
        body["escalation"] = run_view(runs[0])
    return respond(body)


@operation(
    "notifications with every attempt, newest first",
    query={"tenant": None, "incident": None, "status": tuple(NOTIFICATION_STATUSES), "limit": None},
)
async def notification_log(request: web.Request) -> web.Response:
    """GET /v1/sla/notifications?tenant=&incident=&status=&limit=: newest first, each with every attempt."""
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    q = request.query
    problems = limit_problems(q.get("limit", "100"))
    if q.get("status") and q["status"] not in NOTIFICATION_STATUSES:
        problems.append({"field": "status", "message": f"one of {', '.join(NOTIFICATION_STATUSES)}"})
    check_query(request, {"tenant", "incident", "status", "limit"}, problems)
    tenants = tenant_scope(who, snapshot(request).config, q.get("tenant"))
    async with st.pool.acquire() as conn:
        found = await notifications.newest(
            conn, tenants=tenants, incident=q.get("incident"), status=q.get("status"), limit=int(q.get("limit", "100"))
        )
    return respond({"items": [asdict(n) for n in found]})
