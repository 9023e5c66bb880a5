"""Escalation's event handlers: incidents start and stop SLA clocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import (
    IncidentAcknowledged,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    SlaClockStarted,
    SlaClockStopped,
    parse,
)
from libs.events import Envelope, raise_event
from services.escalation import store
from services.escalation.domain import plan_clocks

log = structlog.get_logger()
SOURCE = "escalation"


def started_event(row: asyncpg.Record, cause: Envelope) -> Envelope:
    payload = SlaClockStarted(
        incident_id=str(row["incident_id"]),
        number=row["number"],
        clock=row["clock"],
        priority=row["priority"],
        target_s=row["target_s"],
        started_at=row["started_at"],
        due_at=row["due_at"],
        calendar=row["calendar"],
    )
    return raise_event(
        "sla.clock_started", payload, source=SOURCE, tenant=row["tenant"], subject=payload.incident_id, cause=cause
    )


def stopped_event(row: asyncpg.Record, at: datetime, cause: Envelope) -> Envelope:
    payload = SlaClockStopped(
        incident_id=str(row["incident_id"]),
        number=row["number"],
        clock=row["clock"],
        stopped_at=at,
        elapsed_s=(at - row["started_at"]).total_seconds(),
        met=row["breached_at"] is None,
    )
    return raise_event(
        "sla.clock_stopped", payload, source=SOURCE, tenant=row["tenant"], subject=payload.incident_id, cause=cause
    )


async def on_incidents_opened(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    rows, causes = [], {}
    for env in envs:
        opened = parse(env)
        assert isinstance(opened, IncidentOpened)
        tenant = config.tenant(env.tenant)
        if tenant is None:
            log.warning("escalation.unknown_tenant", tenant=env.tenant, event_id=env.id)
            continue
        causes[opened.incident_id] = env
        for plan in plan_clocks(tenant, opened.priority, opened.opened_at):
            rows.append(
                (
                    opened.incident_id,
                    plan.clock,
                    env.tenant,
                    opened.number,
                    opened.priority,
                    opened.tier,
                    plan.calendar,
                    plan.target.total_seconds(),
                    opened.opened_at,
                    plan.due_at,
                )
            )
    started = await store.start_clocks(conn, rows)
    return [started_event(r, causes[str(r["incident_id"])]) for r in started]


async def on_incident_stopped(conn: asyncpg.Connection, env: Envelope) -> list[Envelope]:
    """Acknowledge stops the response clock; resolve stops whatever still runs."""
    event = parse(env)
    assert isinstance(event, IncidentAcknowledged | IncidentResolved)
    clocks = ["response"] if isinstance(event, IncidentAcknowledged) else ["response", "resolution"]
    stopped = await store.stop_clocks(conn, incident_id=event.incident_id, clocks=clocks, at=event.at)
    return [stopped_event(r, event.at, env) for r in stopped]


async def on_incident_escalated(conn: asyncpg.Connection, env: Envelope) -> list[Envelope]:
    event = parse(env)
    assert isinstance(event, IncidentEscalated)
    await store.set_tier(conn, incident_id=event.incident_id, tier=event.to_tier)
    return []


def make_apply(
    config: TierlineConfig,
) -> Callable[[asyncpg.Connection, list[Envelope]], Awaitable[list[Envelope]]]:
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        # Openings first in bulk; the rest in order, so an ack later in the batch finds its clock.
        raised = await on_incidents_opened(conn, [e for e in envs if e.short_type == "incident.opened"], config)
        for env in envs:
            handler = SINGLE_HANDLERS.get(env.short_type)
            if handler:
                raised += await handler(conn, env)
        return raised

    return apply


SINGLE_HANDLERS = {
    "incident.acknowledged": on_incident_stopped,
    "incident.resolved": on_incident_stopped,
    "incident.escalated": on_incident_escalated,
}
HANDLERS = ["incident.opened", *SINGLE_HANDLERS]
