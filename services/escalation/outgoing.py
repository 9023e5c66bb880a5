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


def notifications(
    config: TierlineConfig,
    *,
    tenant: str,
    trigger: Trigger | str,
    incident: Incident,
    cause: Envelope,
    targets: list[NotificationTarget] | None = None,
) -> list[tuple[Any, ...]]:
    """The rows for store.enqueue: one notification per target that wants `trigger` (or the `targets` given,
    for escalation steps). Nothing is saved here, so a batch can queue all its notifications at once."""
    tenant_cfg = config.tenant(tenant)
    if tenant_cfg is None:
        return []
    if targets is None:
        targets = targets_for(tenant_cfg, trigger, incident.priority)  # type: ignore[arg-type]
    if not targets:
        return []
    event = {"type": cause.short_type, "id": cause.id, "time": cause.time.isoformat(), "data": cause.data}
    rows = []
    for t in targets:
        nid = str(uuid.uuid4())
        body = body_for(t.kind, notification_id=nid, tenant=tenant, trigger=trigger, incident=incident, event=event)
        rows.append(
            (nid, tenant, incident.incident_id, incident.number, t.name, t.kind, trigger, cause.id, json.dumps(body))
        )
    return rows


async def notify(conn: asyncpg.Connection, config: TierlineConfig, **what: Any) -> int:
    """Queue the notifications for `what` (see `notifications`); a replay of the same cause queues nothing new
    (unique target + cause)."""
    return await store.enqueue(conn, notifications(config, **what))


def step_due(run: dict[str, Any], step: int, at: datetime) -> datetime:
    """When `step`, started at `at`, runs out unacknowledged: its delay counted in the contract's coverage."""
    return calendar_from_json(run["coverage"]).add(at, json.loads(run["steps"])[step]["after_s"])


def step_started(
    config: TierlineConfig,
    run: dict[str, Any],
    *,
    step: int,
    round_: int,
    at: datetime,
    due: datetime,
    reason: str,
    cause: Envelope | None,
) -> tuple[Envelope, list[tuple[Any, ...]]]:
    """The `escalation.step_started` event for `run` reaching `step`, and the pages to its targets (unsaved)."""
    spec = json.loads(run["steps"])[step]
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
    if tenant_cfg is None or not spec["notify"]:
        return env, []
    targets = step_targets(tenant_cfg, spec["notify"])
    pages = notifications(
        config, tenant=run["tenant"], trigger="step", incident=incident_of(run), cause=env, targets=targets
    )
    return env, pages


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
    due = step_due(run, step, at)
    await store.update_run(
        conn,
        incident_id=run["incident_id"],
        step=step,
        round=round_,
        tier=run["tier"],
        step_started_at=at,
        step_due_at=due,
    )
    env, pages = step_started(config, run, step=step, round_=round_, at=at, due=due, reason=reason, cause=cause)
    await store.enqueue(conn, pages)
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
