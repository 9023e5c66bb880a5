"""Escalation's event handlers: incident events start, pause, resume and stop SLA clocks, move the escalation
policy, and queue the notifications a tenant asked for."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from libs.calendar import calendar_for
from libs.config import TierlineConfig
from libs.contracts import (
    IncidentAcknowledged,
    IncidentClosed,
    IncidentEscalated,
    IncidentOpened,
    IncidentReopened,
    IncidentResolved,
    SlaClockStarted,
    parse,
)
from libs.events import Envelope, raise_event
from services.escalation import store
from services.escalation.clocks import (
    on_incident_held,
    on_incident_priority_changed,
    on_incident_resumed,
    reopen_resolution_clock,
    stop_clocks,
)
from services.escalation.domain import plan_clocks, sla_snapshot, step_for_tier, steps_snapshot
from services.escalation.outgoing import (
    escalation_request,
    incident_of,
    notifications,
    notify,
    reach_tier,
    start_step,
    step_started,
)

log = structlog.get_logger()
SOURCE = "escalation"
Handler = Callable[[asyncpg.Connection, Envelope, TierlineConfig], Awaitable[list[Envelope]]]


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
        coverage=json.loads(row["coverage"]),
        warn_at=list(row["warn_at"]),
    )
    return raise_event(
        "sla.clock_started", payload, source=SOURCE, tenant=row["tenant"], subject=payload.incident_id, cause=cause
    )


async def on_incidents_opened(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    clock_rows, run_rows, causes = [], [], {}
    for env in envs:
        opened = parse(env)
        assert isinstance(opened, IncidentOpened)
        tenant = config.tenant(env.tenant)
        if tenant is None:
            log.warning("escalation.unknown_tenant", tenant=env.tenant, event_id=env.id)
            continue
        causes[opened.incident_id] = (env, opened)
        for p in plan_clocks(tenant, opened.priority, opened.opened_at):
            clock_rows.append(
                (
                    opened.incident_id,
                    p.clock,
                    env.tenant,
                    opened.number,
                    opened.priority,
                    opened.tier,
                    p.calendar,
                    p.target.total_seconds(),
                    opened.opened_at,
                    p.due_at,
                    json.dumps(p.coverage),
                    list(p.warn_at),
                    p.next_fire_at,
                )
            )
        policy, steps, repeat = tenant.escalation.for_category(opened.category)
        snapshot = steps_snapshot(steps)
        first = step_for_tier(snapshot, opened.tier, 0)
        first = len(snapshot) - 1 if first is None else first
        # The first step is planned here, not saved afterwards: one bulk insert per batch, no update per run.
        run_rows.append(
            (
                opened.incident_id,
                env.tenant,
                opened.number,
                opened.title,
                opened.priority,
                opened.category,
                policy,
                json.dumps(snapshot),
                repeat,
                json.dumps(tenant.contract.coverage.model_dump(mode="json")),
                first,
                max(opened.tier, snapshot[first]["tier"]),
                opened.opened_at,
                calendar_for(tenant.contract.coverage).add(opened.opened_at, snapshot[first]["after_s"]),
                json.dumps(sla_snapshot(tenant)),
            )
        )
    started = await store.start_clocks(conn, clock_rows)
    raised = [started_event(r, causes[str(r["incident_id"])][0]) for r in started]
    pages: list[tuple[Any, ...]] = []
    for run in await store.start_runs(conn, run_rows):  # a replay starts none
        env, opened = causes[str(run["incident_id"])]
        request = None
        if run["tier"] > opened.tier:  # the policy starts above the incident's tier: ask for it
            reason = f"escalation policy {run['policy']} starts at Tier {run['tier']}"
            request = escalation_request(
                run, from_tier=opened.tier, to_tier=run["tier"], reason=reason, at=opened.opened_at, cause=env
            )
            raised.append(request)
        step_env, step_pages = step_started(
            config,
            dict(run),
            step=run["step"],
            round_=0,
            at=opened.opened_at,
            due=run["step_due_at"],
            reason="incident opened",
            cause=request or env,
        )
        raised.append(step_env)
        pages += step_pages
        pages += notifications(config, tenant=env.tenant, trigger="opened", incident=incident_of(run), cause=env)
    await store.enqueue(conn, pages)
    return raised


async def end_run(conn: asyncpg.Connection, incident_id: str, state: str) -> list[asyncpg.Record]:
    found = await store.runs(conn, incident_ids=[incident_id], lock=True)
    for run in found:
        if run["state"] == "running" or state == "closed":
            await store.update_run(conn, incident_id=run["incident_id"], state=state, step_due_at=None)
    return found


async def on_incident_acknowledged(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    event = parse(env)
    assert isinstance(event, IncidentAcknowledged)
    stopped = await stop_clocks(conn, env, ["response"], event.at)  # clocks before runs, everywhere
    await end_run(conn, event.incident_id, "acknowledged")
    return stopped


async def on_incident_resolved(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    event = parse(env)
    assert isinstance(event, IncidentResolved | IncidentClosed)
    stopped = await stop_clocks(conn, env, ["response", "resolution"], event.at)
    found = await end_run(conn, event.incident_id, "closed")
    if found and isinstance(event, IncidentResolved):
        await notify(conn, config, tenant=env.tenant, trigger="resolved", incident=incident_of(found[0]), cause=env)
    return stopped


async def on_incident_reopened(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """The resolution clock counts on (clocks.reopen_resolution_clock); and an incident nobody ever acknowledged
    is back in the queue, so its escalation policy runs again from the step for its tier, paging as it goes.
    One acknowledged before is back with whoever worked it and pages nobody."""
    raised = await reopen_resolution_clock(conn, env, config)
    event = parse(env)
    assert isinstance(event, IncidentReopened)
    if event.state != "new":
        return raised
    for found in await store.runs(conn, incident_ids=[event.incident_id], lock=True):
        run = dict(found)
        steps = json.loads(run["steps"])
        step = step_for_tier(steps, run["tier"], 0)
        await store.update_run(conn, incident_id=run["incident_id"], state="running")
        run["state"] = "running"
        raised.append(
            await start_step(
                conn,
                config,
                run,
                step=len(steps) - 1 if step is None else step,
                round_=0,
                at=event.at,
                reason="incident reopened, never acknowledged",
                cause=env,
            )
        )
    return raised


async def on_incident_escalated(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """Triage applied an escalation (ours, or a person's): clocks report the new tier, and a manual jump
    moves the policy to the step for that tier and pages it, as an automatic escalation would."""
    event = parse(env)
    assert isinstance(event, IncidentEscalated)
    await store.set_tier(conn, incident_id=event.incident_id, tier=event.to_tier)
    raised = []
    for found in await store.runs(conn, incident_ids=[event.incident_id], lock=True):
        run = dict(found)
        if event.to_tier > found["tier"]:  # not our own request coming back
            reason = f"escalated by hand: {event.reason}"
            raised += await reach_tier(conn, config, run, tier=event.to_tier, at=event.at, reason=reason, cause=env)
        await notify(conn, config, tenant=env.tenant, trigger="escalated", incident=incident_of(run), cause=env)
    return raised


def make_apply(
    config: TierlineConfig,
) -> Callable[[asyncpg.Connection, list[Envelope]], Awaitable[list[Envelope]]]:
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        # Openings first in bulk; the rest in order, so an ack later in the batch finds its clock.
        raised = await on_incidents_opened(conn, [e for e in envs if e.short_type == "incident.opened"], config)
        for env in envs:
            if handler := SINGLE_HANDLERS.get(env.short_type):
                raised += await handler(conn, env, config)
        return raised

    return apply


SINGLE_HANDLERS: dict[str, Handler] = {
    "incident.acknowledged": on_incident_acknowledged,
    "incident.resolved": on_incident_resolved,
    "incident.closed": on_incident_resolved,
    "incident.held": on_incident_held,
    "incident.resumed": on_incident_resumed,
    "incident.priority_changed": on_incident_priority_changed,
    "incident.reopened": on_incident_reopened,
    "incident.escalated": on_incident_escalated,
}
HANDLERS = ["incident.opened", *SINGLE_HANDLERS]
