"""What escalation raises inside a transaction: notifications (rows committed with their cause), escalation
policy steps and escalation requests."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from libs.calendar import calendar_from_json
from libs.config import NotificationTarget, TierlineConfig, Trigger
from libs.contracts import EscalationRequested, EscalationStepStarted
from libs.events import Envelope, raise_event
from services.escalation import store
from services.escalation.domain import step_for_tier
from services.escalation.notify import Incident, body_for, step_targets, targets_for

SOURCE = "escalation"


def incident_of(run: asyncpg.Record | dict[str, Any]) -> Incident:
    return Incident(str(run["incident_id"]), run["number"], run["title"], run["priority"], int(run["tier"]))


async def notify(
    conn: asyncpg.Connection,
    config: TierlineConfig,
    *,
    tenant: str,
    trigger: Trigger | str,
    incident: Incident,
    cause: Envelope,
    targets: list[NotificationTarget] | None = None,
) -> int:
    """Queue one notification per target that wants `trigger` (or the `targets` given, for escalation steps);
    a replay of the same cause queues nothing new (unique target + cause)."""
    tenant_cfg = config.tenant(tenant)
    if tenant_cfg is None:
        return 0
    if targets is None:
        targets = targets_for(tenant_cfg, trigger, incident.priority)  # type: ignore[arg-type]
    event = {"type": cause.short_type, "id": cause.id, "time": cause.time.isoformat(), "data": cause.data}
    rows = []
    for t in targets:
        nid = str(uuid.uuid4())
        body = body_for(t.kind, notification_id=nid, tenant=tenant, trigger=trigger, incident=incident, event=event)
        rows.append(
            (nid, tenant, incident.incident_id, incident.number, t.name, t.kind, trigger, cause.id, json.dumps(body))
        )
    return await store.enqueue(conn, rows)


async def start_step(
    conn: asyncpg.Connection,
    config: TierlineConfig,
    run: dict[str, Any],
    *,
    step: int,
    round_: int,
    at: datetime,
    reason: str,
    cause: Envelope | None,
) -> Envelope:
    """Move the run to `step` (saved), page the step's targets, and return the `escalation.step_started` event."""
    steps = json.loads(run["steps"])
    spec = steps[step]
    due = calendar_from_json(run["coverage"]).add(at, spec["after_s"])
    await store.update_run(
        conn,
        incident_id=run["incident_id"],
        step=step,
        round=round_,
        tier=run["tier"],
        step_started_at=at,
        step_due_at=due,
    )
    payload = EscalationStepStarted(
        incident_id=str(run["incident_id"]),
        number=run["number"],
        policy=run["policy"],
        step=step,
        round=round_,
        tier=spec["tier"],
        group=spec["group"],
        notify=spec["notify"],
        at=at,
        due_at=due,
        reason=reason,
    )
    env = raise_event(
        "escalation.step_started",
        payload,
        source=SOURCE,
        tenant=run["tenant"],
        subject=payload.incident_id,
        cause=cause,
    )
    tenant_cfg = config.tenant(run["tenant"])
    if tenant_cfg is not None and spec["notify"]:
        targets = step_targets(tenant_cfg, spec["notify"])
        await notify(
            conn, config, tenant=run["tenant"], trigger="step", incident=incident_of(run), cause=env, targets=targets
        )
    return env


async def reach_tier(
    conn: asyncpg.Connection,
    config: TierlineConfig,
    run: dict[str, Any],
    *,
    tier: int,
    at: datetime,
    reason: str,
    cause: Envelope | None,
) -> list[Envelope]:
    """The incident reached (or was asked up to) `tier`: a running policy jumps to the first step at that tier
    and pages it; with no such step, or once acknowledged, only the tier is remembered."""
    run["tier"] = max(run["tier"], tier)
    step = step_for_tier(json.loads(run["steps"]), tier, run["step"])
    if step is None or run["state"] != "running":
        await store.update_run(conn, incident_id=run["incident_id"], tier=run["tier"])
        return []
    return [await start_step(conn, config, run, step=step, round_=run["round"], at=at, reason=reason, cause=cause)]


def escalation_request(
    run: dict[str, Any], *, from_tier: int, to_tier: int, reason: str, at: datetime, cause: Envelope | None
) -> Envelope:
    request = EscalationRequested(
        incident_id=str(run["incident_id"]),
        number=run["number"],
        from_tier=from_tier,
        to_tier=to_tier,
        reason=reason,
        at=at,
    )
    return raise_event(
        "escalation.requested", request, source=SOURCE, tenant=run["tenant"], subject=request.incident_id, cause=cause
    )
