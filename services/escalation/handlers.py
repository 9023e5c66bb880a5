"""Escalation's subscriber table: incident events start, stop, pause, resume and re-target SLA clocks, move the
escalation policy, and queue the notifications a tenant asked for.

Openings come first, in bulk (one insert of clocks and one of runs per batch). The lifecycle events share one
entry, so they run in stream order: an acknowledgement later in the batch finds the clock an opening or a hold
before it left. An incident's clocks are always locked before its policy run (the timer takes both at once,
without waiting), so handlers and timers cannot deadlock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog

from libs.config import Tenant, TierlineConfig
from libs.contracts import (
    IncidentAcknowledged,
    IncidentClosed,
    IncidentEscalated,
    IncidentHeld,
    IncidentOpened,
    IncidentPriorityChanged,
    IncidentReopened,
    IncidentResolved,
    IncidentResumed,
)
from libs.events import Envelope
from libs.subscriptions import Message, Subscriptions
from libs.uow import Tx
from services.escalation import events, paging
from services.escalation.domain.clock import SlaClock, pauses, plan_clocks, sla_snapshot
from services.escalation.domain.notifications import Notification, notifications_for
from services.escalation.domain.pages import OnCall, StepPlan
from services.escalation.domain.run import EscalationRun, RunState
from services.escalation.store import escalation_runs, notifications, sla_clocks

log = structlog.get_logger()
Lifecycle = (
    IncidentAcknowledged | IncidentResolved | IncidentClosed | IncidentHeld | IncidentResumed
    | IncidentPriorityChanged | IncidentReopened | IncidentEscalated
)  # fmt: skip


async def on_incidents_opened(tx: Tx, messages: list[Message[IncidentOpened]], config: TierlineConfig) -> None:
    """Start each new incident's clocks and its escalation policy on its first step; a replay starts nothing."""
    opening = _of_known_tenants(messages, config)
    causes = {m.payload.incident_id: m for m, _ in opening}
    clocks = [
        SlaClock.start(plan, m.payload, tenant=m.tenant)
        for m, tenant in opening
        for plan in plan_clocks(tenant, m.payload.priority, m.payload.opened_at)
    ]
    started: dict[str, list[SlaClock]] = {}  # by incident, in batch order: one event for all its clocks
    for clock in await sla_clocks.start(tx.conn, clocks):
        started.setdefault(clock.incident_id, []).append(clock)
    tx.emit_all(events.clocks_started(mine, causes[iid].envelope) for iid, mine in started.items())
    # The first step is planned with the run (who is on call, one read of overrides per batch), not saved after
    # it: one insert per batch, no update per run.
    opened = [EscalationRun.open(m.payload, tenant) for m, tenant in opening]
    since = min((r.step_started_at for r in opened), default=None)
    oncall = await paging.on_call_for(tx, opened, since) if since else OnCall({})
    plans = {r.incident_id: paging.plan(config, r, oncall, r.step_started_at) for r in opened}
    runs = await escalation_runs.start(tx.conn, [paging.planned(r, plans[r.incident_id]) for r in opened])
    pages: list[Notification] = []
    for run in runs:
        pages += _first_step(tx, config, run, plans[run.incident_id], causes[run.incident_id])
    await notifications.enqueue(tx.conn, pages)


def _of_known_tenants(
    messages: list[Message[IncidentOpened]], config: TierlineConfig
) -> list[tuple[Message[IncidentOpened], Tenant]]:
    found = []
    for m in messages:
        tenant = config.tenant(m.tenant)
        if tenant is None:  # a tenant removed from the config: nothing to time it against
            log.warning("escalation.unknown_tenant", tenant=m.tenant, event_id=m.envelope.id)
            continue
        found.append((m, tenant))
    return found


def _first_step(
    tx: Tx, config: TierlineConfig, run: EscalationRun, step_plan: StepPlan, m: Message[IncidentOpened]
) -> list[Notification]:
    """Emit the run's first step (asking for its tier first if it is above the incident's); the pages it sends
    and the `opened` notifications, to queue with the batch's."""
    opened, cause = m.payload, m.envelope
    if run.tier > opened.tier:  # the policy starts above the incident's tier: ask for it
        reason = f"escalation policy {run.policy} starts at Tier {run.tier}"
        cause = events.escalation_requested(
            run, from_tier=opened.tier, to_tier=run.tier, reason=reason, at=opened.opened_at, cause=cause
        )
        tx.emit(cause)
    started = events.step_started(run, reason="incident opened", cause=cause)
    tx.emit(started)
    told = notifications_for(config.tenant(run.tenant), trigger="opened", incident=run.incident, cause=m.envelope)
    return paging.step_pages(config, run, step_plan, started) + told


async def on_incident_lifecycle(tx: Tx, messages: list[Message[Lifecycle]], config: TierlineConfig) -> None:
    """Every later move of an incident, one at a time in stream order (their relative order matters)."""
    for m in messages:
        cause = m.envelope
        match m.payload:
            case IncidentAcknowledged() as e:
                await on_acknowledged(tx, cause, e, config)
            case IncidentResolved() as e:
                await on_resolved(tx, cause, e, config)
            case IncidentClosed() as e:
                await on_closed(tx, cause, e, config)
            case IncidentHeld() as e:
                await on_held(tx, cause, e, config)
            case IncidentResumed() as e:
                await on_resumed(tx, cause, e, config)
            case IncidentPriorityChanged() as e:
                await on_priority_changed(tx, cause, e, config)
            case IncidentReopened() as e:
                await on_reopened(tx, cause, e, config)
            case IncidentEscalated() as e:
                await on_escalated(tx, cause, e, config)


async def on_acknowledged(tx: Tx, cause: Envelope, e: IncidentAcknowledged, config: TierlineConfig) -> None:
    """The response clock stops, the policy stops paging, and pages still waiting their delay are cancelled."""
    await _stop_clocks(tx, cause, e.incident_id, ["response"], e.at)  # clocks before runs, everywhere
    await _end_run(tx, e.incident_id, "acknowledged")


async def on_resolved(tx: Tx, cause: Envelope, e: IncidentResolved, config: TierlineConfig) -> None:
    """Both clocks stop, the policy is over, and the tenant's targets hear it was resolved."""
    if found := await _close(tx, cause, e.incident_id, e.at):
        incident = found[0].incident
        await paging.notify(tx, config, tenant=cause.tenant, trigger="resolved", incident=incident, cause=cause)


async def on_closed(tx: Tx, cause: Envelope, e: IncidentClosed, config: TierlineConfig) -> None:
    await _close(tx, cause, e.incident_id, e.at)


async def _close(tx: Tx, cause: Envelope, incident_id: str, at: datetime) -> list[EscalationRun]:
    await _stop_clocks(tx, cause, incident_id, ["response", "resolution"], at)
    return await _end_run(tx, incident_id, "closed")


async def _stop_clocks(tx: Tx, cause: Envelope, incident_id: str, names: list[str], at: datetime) -> None:
    for clock in await sla_clocks.locked(tx.conn, incident_id=incident_id, clocks=names):
        stopped = clock.stop(at)
        await sla_clocks.save(tx.conn, stopped)
        tx.emit(events.clock_stopped(stopped, cause))


async def _end_run(tx: Tx, incident_id: str, state: RunState) -> list[EscalationRun]:
    found = await escalation_runs.find(tx.conn, incident_ids=[incident_id], lock=True)
    for run in found:
        if (ended := run.end(state)) is not None:
            await escalation_runs.save(tx.conn, ended)
    if (cancelled := await notifications.cancel_pages(tx.conn, incident_id=incident_id)) > 0:
        log.info("oncall.pages_cancelled", incident_id=incident_id, count=cancelled, why=state)
    return found


async def on_held(tx: Tx, cause: Envelope, e: IncidentHeld, config: TierlineConfig) -> None:
    """On hold: the resolution clock pauses where the contract it started under says this hold pauses it."""
    tenant = config.tenant(cause.tenant)
    if tenant is None:
        return
    for clock in await sla_clocks.locked(tx.conn, incident_id=e.incident_id, clocks=["resolution"]):
        if not pauses(e.reason, pause_on_vendor=tenant.contract_at(clock.started_at).pause_on_vendor):
            continue
        if (paused := clock.pause(e.at, e.reason)) is not None:
            await sla_clocks.save(tx.conn, paused)
            tx.emit(events.clock_paused(paused, cause))


async def on_resumed(tx: Tx, cause: Envelope, e: IncidentResumed, config: TierlineConfig) -> None:
    """Off hold: a paused resolution clock counts again, its deadline moved by the coverage time paused."""
    for clock in await sla_clocks.locked(tx.conn, incident_id=e.incident_id, clocks=["resolution"]):
        if (restart := clock.resume(e.at)) is not None:
            await sla_clocks.save(tx.conn, restart.clock)
            tx.emit(events.clock_resumed(restart, clock.pause_reason or e.reason, cause))


async def on_priority_changed(tx: Tx, cause: Envelope, e: IncidentPriorityChanged, config: TierlineConfig) -> None:
    """Running clocks take the new priority's targets from the contract the incident opened under, counted
    from the same start; warnings already fired stay fired, a breach already fired stays a fact."""
    clocks = await sla_clocks.locked(tx.conn, incident_id=e.incident_id, clocks=["response", "resolution"])
    runs = await escalation_runs.find(tx.conn, incident_ids=[e.incident_id], lock=True)
    tenant = config.tenant(cause.tenant)
    if runs:
        targets = runs[0].sla
        await escalation_runs.save(tx.conn, replace(runs[0], priority=e.to_priority))
    elif tenant is not None and clocks:  # clocks from before policy runs kept the contract (migration 003)
        targets = sla_snapshot(tenant, clocks[0].started_at)
    else:
        return
    if e.to_priority not in targets:
        return
    for clock in clocks:
        after = clock.retarget(e.to_priority, targets[e.to_priority][clock.clock])
        await sla_clocks.save(tx.conn, after)
        tx.emit(events.clock_retargeted(clock, after, e.at, cause))


async def on_reopened(tx: Tx, cause: Envelope, e: IncidentReopened, config: TierlineConfig) -> None:
    """The resolution clock counts on from where it stopped (the time spent resolved is treated like a pause);
    and an incident nobody ever acknowledged is back in the queue, so its escalation policy runs again from the
    step for its tier, paging as it goes. One acknowledged before is back with whoever worked it: no pages."""
    for clock in await sla_clocks.locked(tx.conn, incident_id=e.incident_id, clocks=["resolution"], stopped=True):
        restart = clock.reopen(e.at)
        await sla_clocks.save(tx.conn, restart.clock)
        tx.emit(events.clock_resumed(restart, "reopened", cause))
    if e.state != "new":
        return
    for run in await escalation_runs.find(tx.conn, incident_ids=[e.incident_id], lock=True):
        reason = "incident reopened, never acknowledged"
        await paging.begin_step(tx, config, run.rerun(e.at), reason=reason, cause=cause)


async def on_escalated(tx: Tx, cause: Envelope, e: IncidentEscalated, config: TierlineConfig) -> None:
    """Triage applied an escalation (ours, or a person's): clocks report the new tier, and a manual jump moves
    the policy to the step for that tier and pages it, as an automatic escalation would."""
    await sla_clocks.set_tier(tx.conn, incident_id=e.incident_id, tier=e.to_tier)
    for run in await escalation_runs.find(tx.conn, incident_ids=[e.incident_id], lock=True):
        if e.to_tier > run.tier:  # not our own request coming back
            reason = f"escalated by hand: {e.reason}"
            run = await paging.reach_tier(tx, config, run, tier=e.to_tier, at=e.at, reason=reason, cause=cause)
        await paging.notify(tx, config, tenant=cause.tenant, trigger="escalated", incident=run.incident, cause=cause)


SUBSCRIPTIONS: Subscriptions[TierlineConfig] = {
    IncidentOpened: on_incidents_opened,
    (
        IncidentAcknowledged,
        IncidentResolved,
        IncidentClosed,
        IncidentHeld,
        IncidentResumed,
        IncidentPriorityChanged,
        IncidentReopened,
        IncidentEscalated,
    ): on_incident_lifecycle,
}
