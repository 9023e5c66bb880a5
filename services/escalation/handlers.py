"""Escalation's event handlers: incident events start, pause, resume and stop SLA clocks, move the escalation
policy, and queue the notifications a tenant asked for."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import structlog

from libs.calendar import calendar_from_json
from libs.config import TierlineConfig
from libs.contracts import (
    IncidentAcknowledged,
    IncidentClosed,
    IncidentEscalated,
    IncidentHeld,
    IncidentOpened,
    IncidentResolved,
    IncidentResumed,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockStarted,
    SlaClockStopped,
    parse,
)
from libs.events import Envelope, raise_event
from services.escalation import store
from services.escalation.domain import due_at, next_fire, pauses, plan_clocks, step_for_tier, steps_snapshot
from services.escalation.outgoing import escalation_request, incident_of, notify, reach_tier, start_step

log = structlog.get_logger()
SOURCE = "escalation"
Handler = Callable[[asyncpg.Connection, Envelope, TierlineConfig], Awaitable[list[Envelope]]]


def _sla(
    kind: str,
    payload: SlaClockStarted | SlaClockStopped | SlaClockPaused | SlaClockResumed,
    tenant: str,
    cause: Envelope,
) -> Envelope:
    return raise_event(kind, payload, source=SOURCE, tenant=tenant, subject=payload.incident_id, cause=cause)


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
    return _sla("sla.clock_started", payload, row["tenant"], cause)


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
        run_rows.append(
            (
                opened.incident_id,
                env.tenant,
                opened.number,
                opened.title,
                opened.priority,
                opened.category,
                policy,
                json.dumps(steps_snapshot(steps)),
                repeat,
                json.dumps(tenant.contract.coverage.model_dump(mode="json")),
                opened.tier,
                opened.opened_at,
                None,
            )
        )
    started = await store.start_clocks(conn, clock_rows)
    raised = [started_event(r, causes[str(r["incident_id"])][0]) for r in started]
    for found in await store.start_runs(conn, run_rows):
        env, opened = causes[str(found["incident_id"])]
        run = dict(found)
        steps = json.loads(run["steps"])
        first = step_for_tier(steps, opened.tier, 0)
        first = len(steps) - 1 if first is None else first
        request = None
        if steps[first]["tier"] > opened.tier:  # the policy starts above the incident's tier: ask for it
            reason = f"escalation policy {run['policy']} starts at Tier {steps[first]['tier']}"
            request = escalation_request(
                run, from_tier=opened.tier, to_tier=steps[first]["tier"], reason=reason, at=opened.opened_at, cause=env
            )
            run["tier"] = steps[first]["tier"]
            raised.append(request)
        raised.append(
            await start_step(
                conn,
                config,
                run,
                step=first,
                round_=0,
                at=opened.opened_at,
                reason="incident opened",
                cause=request or env,
            )
        )
        await notify(conn, config, tenant=env.tenant, trigger="opened", incident=incident_of(run), cause=env)
    return raised


async def stop_clocks(conn: asyncpg.Connection, env: Envelope, clocks: list[str], at: datetime) -> list[Envelope]:
    out = []
    for row in await store.running_clocks(conn, incident_id=env.data["incident_id"], clocks=clocks):
        cal = calendar_from_json(row["coverage"])
        paused_s = row["paused_s"] + (cal.between(row["paused_at"], at) if row["paused_at"] else 0.0)
        await store.update_clock(
            conn,
            incident_id=row["incident_id"],
            clock=row["clock"],
            stopped_at=at,
            paused_at=None,
            paused_s=paused_s,
            next_fire_at=None,
        )
        payload = SlaClockStopped(
            incident_id=str(row["incident_id"]),
            number=row["number"],
            clock=row["clock"],
            stopped_at=at,
            elapsed_s=(at - row["started_at"]).total_seconds(),
            met=row["breached_at"] is None,
            calendar=row["calendar"],
            coverage_s=max(0.0, cal.between(row["started_at"], at) - paused_s),
            paused_s=paused_s,
        )
        out.append(_sla("sla.clock_stopped", payload, row["tenant"], env))
    return out


async def end_run(conn: asyncpg.Connection, incident_id: str, state: str) -> list[asyncpg.Record]:
    found = await store.runs(conn, incident_ids=[incident_id], lock=True)
    for run in found:
        if run["state"] == "running" or state == "closed":
            await store.update_run(conn, incident_id=run["incident_id"], state=state, step_due_at=None)
    return found


async def on_incident_acknowledged(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    event = parse(env)
    assert isinstance(event, IncidentAcknowledged)
    stopped = await stop_clocks(conn, env, ["response"], event.at)  # clocks before runs: the timers' lock order
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


async def on_incident_held(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    event = parse(env)
    assert isinstance(event, IncidentHeld)
    tenant = config.tenant(env.tenant)
    if tenant is None or not pauses(event.reason, pause_on_vendor=tenant.contract.pause_on_vendor):
        return []
    out = []
    for row in await store.running_clocks(conn, incident_id=event.incident_id, clocks=["resolution"]):
        if row["paused_at"] is not None or row["breached_at"] is not None:
            continue  # already paused, or already breached: nothing left to protect
        cal = calendar_from_json(row["coverage"])
        await store.update_clock(
            conn,
            incident_id=row["incident_id"],
            clock=row["clock"],
            paused_at=event.at,
            pause_reason=event.reason,
            next_fire_at=None,
        )
        counted = max(0.0, cal.between(row["started_at"], event.at) - row["paused_s"])
        payload = SlaClockPaused(
            incident_id=event.incident_id,
            number=event.number,
            clock=row["clock"],
            reason=event.reason,
            paused_at=event.at,
            counted_s=counted,
            calendar=row["calendar"],
        )
        out.append(_sla("sla.clock_paused", payload, row["tenant"], env))
    return out


async def on_incident_resumed(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    event = parse(env)
    assert isinstance(event, IncidentResumed)
    out = []
    for row in await store.running_clocks(conn, incident_id=event.incident_id, clocks=["resolution"]):
        if row["paused_at"] is None:
            continue
        cal = calendar_from_json(row["coverage"])
        at = max(event.at, row["paused_at"])
        paused = cal.between(row["paused_at"], at)
        total = row["paused_s"] + paused
        warn = tuple(row["warn_at"])
        due = due_at(cal, row["started_at"], row["target_s"], total)
        nxt = next_fire(cal, row["started_at"], row["target_s"], total, warn, row["warned"])
        await store.update_clock(
            conn,
            incident_id=row["incident_id"],
            clock=row["clock"],
            paused_at=None,
            pause_reason=None,
            paused_s=total,
            due_at=due,
            next_fire_at=nxt,
        )
        payload = SlaClockResumed(
            incident_id=event.incident_id,
            number=event.number,
            clock=row["clock"],
            reason=row["pause_reason"] or event.reason,
            resumed_at=at,
            paused_s=paused,
            due_at=due,
            calendar=row["calendar"],
        )
        out.append(_sla("sla.clock_resumed", payload, row["tenant"], env))
    return out


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
    "incident.escalated": on_incident_escalated,
}
HANDLERS = ["incident.opened", *SINGLE_HANDLERS]
