"""GET /v1/heartbeats?tenant=: every configured heartbeat with its last beat, its status (ok, late, never), when
the next beat is due, a backup's recovery point and RPO, and the open incident its silence opened."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from libs.auth import authenticate
from libs.config import Heartbeat
from libs.events import utcnow
from libs.openapi import operation
from libs.query import check_query, tenant_scope
from libs.web import respond, snapshot
from services.triage import store
from services.triage.api.state import STATE
from services.triage.domain import heartbeats as hb


def _seconds(spec: Heartbeat, name: str) -> float | None:
    value = getattr(spec, name)
    return None if value is None else value.total_seconds()


def heartbeat_json(tenant: str, spec: Heartbeat, row: store.HeartbeatRead | None, now: datetime) -> dict[str, Any]:
    state = row.state if row else None
    out: dict[str, Any] = {
        "tenant": tenant, "name": spec.name, "kind": spec.kind, "ci": spec.ci, "severity": spec.severity,
        "expect_every_s": _seconds(spec, "expect_every"), "grace_s": _seconds(spec, "grace"),
        "alertmanager_alertname": spec.alertmanager_alertname, "status": hb.status(state, spec, now),
        "late_reason": hb.late_reason(state, spec, now) if state and state.last_beat_at else None,
        "last_beat_at": state.last_beat_at if state else None,
        "next_due_at": hb.silent_at(state, spec) if state else None,
        "incident": {"id": state.incident_id, "number": row.incident_number, "state": row.incident_state}
        if row and state and row.incident_number else None,
    }  # fmt: skip
    if spec.kind == "backup":
        out |= {
            "rpo_s": _seconds(spec, "rpo"),
            "recovery_point": state.recovery_point if state else None,
            "rpo_due_at": hb.rpo_missed_at(state, spec) if state else None,
        }
    return out


@operation("every configured heartbeat and its status", query={"tenant": None})
async def list_heartbeats(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    check_query(request, {"tenant"})
    scope = tenant_scope(who, snapshot(request).config, request.query.get("tenant"))
    tenants = [t for t in snapshot(request).config.tenants if scope is None or t.id in scope]
    async with st.pool.acquire() as conn:
        rows = await store.heartbeat_rows(conn, tenants=[t.id for t in tenants])
    found = {(r.state.tenant, r.state.name): r for r in rows}
    now = utcnow()
    items = [heartbeat_json(t.id, spec, found.get((t.id, spec.name)), now) for t in tenants for spec in t.heartbeats]
    return respond({"items": items})
