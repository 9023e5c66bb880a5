"""Paging inside a unit of work, for handlers and workers alike: a policy run that moved to a step is saved,
its `escalation.step_started` emitted and the step's targets and people paged; a tier reached moves a running
policy to that tier's step; a handoff pages the incoming person. Notifications are queued in the transaction of
their cause, so they are sent once it commits (and never for a cause rolled back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import structlog

from libs.config import TierlineConfig, Trigger
from libs.events import Envelope
from libs.uow import Tx
from services.escalation import events
from services.escalation.domain.notifications import Incident, Notification, notifications_for
from services.escalation.domain.pages import OnCall, StepPlan, person_pages, plan_step, schedules_of
from services.escalation.domain.run import EscalationRun
from services.escalation.store import escalation_runs, notifications, overrides

log = structlog.get_logger()


async def notify(
    tx: Tx, config: TierlineConfig, *, tenant: str, trigger: Trigger, incident: Incident, cause: Envelope
) -> None:
    """Queue a notification to each of the tenant's targets that wants `trigger` (a replayed cause: none)."""
    found = notifications_for(config.tenant(tenant), trigger=trigger, incident=incident, cause=cause)
    await notifications.enqueue(tx.conn, found)


async def on_call_for(tx: Tx, runs: Sequence[EscalationRun], at: datetime) -> OnCall:
    """Who is on call for every schedule the runs' current steps page: one read of overrides for a batch, each
    schedule rendered once for all of its runs."""
    names = sorted({s for run in runs for s in schedules_of(run.current.notify)})
    return OnCall(await overrides.by_schedule(tx.conn, schedules=names, ending_after=at) if names else {})


def plan(config: TierlineConfig, run: EscalationRun, oncall: OnCall, at: datetime) -> StepPlan:
    """Whom the run's current step pages at `at`; the run keeps who was on call and the next handoff."""
    result = plan_step(config.directory, run.tenant, run.current.notify, oncall, at)
    for gap in result.gaps:
        log.warning("oncall.gap", schedule=gap, tenant=run.tenant, incident_id=run.incident_id,
                    fallback=bool(result.recipients and any(r.fallback for r in result.recipients)))  # fmt: skip
    return result


def planned(run: EscalationRun, step_plan: StepPlan | None) -> EscalationRun:
    if step_plan is None:
        return replace(run, on_call={}, handoff_at=None)
    return replace(run, on_call=step_plan.on_call, handoff_at=step_plan.handoff_at)


def step_pages(
    config: TierlineConfig, run: EscalationRun, step_plan: StepPlan, started: Envelope
) -> list[Notification]:
    """The step's notifications: to the tenant's targets it names, and one page per contact method of each
    person it pages, all caused by its `escalation.step_started`."""
    targets = run.pages(config.tenant(run.tenant), started)
    event = {"type": started.short_type, "id": started.id, "time": started.time.isoformat(), "data": started.data}
    people = person_pages(run.tenant, step_plan.recipients, trigger="step", incident=run.incident, event=event,
                          dedup=started.id, at=run.step_started_at)  # fmt: skip
    for r in step_plan.recipients:
        if not r.person.contact_methods:
            log.warning("oncall.unreachable", person=r.person.name, schedule=r.schedule, incident_id=run.incident_id)
    return targets + people


async def begin_step(
    tx: Tx, config: TierlineConfig, run: EscalationRun, *, reason: str, cause: Envelope | None
) -> None:
    """`run` just moved to a step: save it with whom it pages, emit `escalation.step_started`, page them."""
    step_plan = plan(config, run, await on_call_for(tx, [run], run.step_started_at), run.step_started_at)
    run = planned(run, step_plan)
    await escalation_runs.save(tx.conn, run)
    started = events.step_started(run, reason=reason, cause=cause)
    tx.emit(started)
    await notifications.enqueue(tx.conn, step_pages(config, run, step_plan, started))


async def reach_tier(
    tx: Tx, config: TierlineConfig, run: EscalationRun, *, tier: int, at: datetime, reason: str, cause: Envelope
) -> EscalationRun:
    """The incident reached (or was asked up to) `tier`: a running policy moves to that tier's step and pages
    it; otherwise only the tier is remembered. Returns the run as saved."""
    after, stepped = run.reach(tier, at)
    if stepped:
        await begin_step(tx, config, after, reason=reason, cause=cause)
    else:
        await escalation_runs.save(tx.conn, after)
    return after


async def hand_over(tx: Tx, config: TierlineConfig, run: EscalationRun, at: datetime) -> EscalationRun:
    """A schedule the unacknowledged run pages handed over: page whoever came on call (once: the page's key is
    the incident, schedule and the time the shift began), and look again at the next handoff."""
    oncall = await on_call_for(tx, [run], at)
    step_plan = plan_step(config.directory, run.tenant, run.current.notify, oncall, at, previous=run.on_call)
    after = planned(run, step_plan)
    await escalation_runs.save(tx.conn, after)
    pages: list[Notification] = []
    for r in step_plan.recipients:
        event = {"type": "handoff", "time": at.isoformat(), "data": {"previous": run.on_call.get(r.schedule or "")}}
        began = step_plan.since.get(r.schedule or "", at)  # a fallback in a gap: the gap's first look
        key = f"handoff:{run.incident_id}:{r.schedule}:{began.isoformat()}"
        pages += person_pages(run.tenant, [r], trigger="handoff", incident=run.incident, event=event, dedup=key, at=at)
        log.info("oncall.handoff_paged", schedule=r.schedule, person=r.person.name, incident_id=run.incident_id)
    await notifications.enqueue(tx.conn, pages)
    return after
