"""Handlers that change running SLA clocks: stop, pause on hold, resume, re-target on a priority change,
restart the resolution clock on reopen. Each emits the SLA event (with its calendar) that explains it."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from libs.calendar import calendar_from_json
from libs.config import TierlineConfig
from libs.contracts import (
    IncidentHeld,
    IncidentPriorityChanged,
    IncidentReopened,
    IncidentResumed,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStopped,
    parse,
)
from libs.events import Envelope, raise_event
from services.escalation import store
from services.escalation.domain import due_at, next_fire, pauses, sla_snapshot

SOURCE = "escalation"
Payload = SlaClockStopped | SlaClockPaused | SlaClockResumed | SlaClockRetargeted


def _sla(kind: str, payload: Payload, tenant: str, cause: Envelope) -> Envelope:
    return raise_event(kind, payload, source=SOURCE, tenant=tenant, subject=payload.incident_id, cause=cause)


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


async def on_incident_priority_changed(
    conn: asyncpg.Connection, env: Envelope, config: TierlineConfig
) -> list[Envelope]:
    """Running clocks take the new priority's targets from the contract the incident opened under, counted
    from the same start; warnings already fired stay fired, a breach already fired stays a fact."""
    event = parse(env)
    assert isinstance(event, IncidentPriorityChanged)
    rows = await store.running_clocks(conn, incident_id=event.incident_id, clocks=["response", "resolution"])
    runs = await store.runs(conn, incident_ids=[event.incident_id], lock=True)
    tenant = config.tenant(env.tenant)
    if runs:
        targets = json.loads(runs[0]["sla"])
        await store.update_run(conn, incident_id=runs[0]["incident_id"], priority=event.to_priority)
    elif tenant is not None:
        targets = sla_snapshot(tenant)
    else:
        return []
    if event.to_priority not in targets:
        return []
    out = []
    for row in rows:
        cal = calendar_from_json(row["coverage"])
        target = targets[event.to_priority][row["clock"]]
        due = due_at(cal, row["started_at"], target, row["paused_s"])
        warn = tuple(row["warn_at"])
        nxt = None
        if row["paused_at"] is None and row["breached_at"] is None:
            nxt = next_fire(cal, row["started_at"], target, row["paused_s"], warn, row["warned"])
        await store.update_clock(conn, incident_id=row["incident_id"], clock=row["clock"], priority=event.to_priority,
                                 target_s=target, due_at=due, next_fire_at=nxt)  # fmt: skip
        payload = SlaClockRetargeted(incident_id=event.incident_id, number=event.number, clock=row["clock"],
                                     from_priority=row["priority"], priority=event.to_priority, target_s=target,
                                     due_at=due, at=event.at, calendar=row["calendar"])  # fmt: skip
        out.append(_sla("sla.clock_retargeted", payload, row["tenant"], env))
    return out


async def reopen_resolution_clock(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """A reopened incident's resolution clock counts on from where it stopped: the time it spent resolved is
    treated like a pause, so its deadline moves by that coverage time."""
    event = parse(env)
    assert isinstance(event, IncidentReopened)
    rows = await store.stopped_clocks(conn, incident_id=event.incident_id, clocks=["resolution"])
    out = []
    for row in rows:
        cal = calendar_from_json(row["coverage"])
        at = max(event.at, row["stopped_at"])
        gap = cal.between(row["stopped_at"], at)
        total = row["paused_s"] + gap
        due = due_at(cal, row["started_at"], row["target_s"], total)
        nxt = None
        if row["breached_at"] is None:
            nxt = next_fire(cal, row["started_at"], row["target_s"], total, tuple(row["warn_at"]), row["warned"])
        await store.update_clock(conn, incident_id=row["incident_id"], clock=row["clock"], stopped_at=None,
                                 paused_s=total, due_at=due, next_fire_at=nxt)  # fmt: skip
        payload = SlaClockResumed(incident_id=event.incident_id, number=event.number, clock=row["clock"],
                                  reason="reopened", resumed_at=at, paused_s=gap, due_at=due,
                                  calendar=row["calendar"])  # fmt: skip
        out.append(_sla("sla.clock_resumed", payload, row["tenant"], env))
    return out
