"""The events escalation publishes, built from its records: SLA clock events (with the clock's calendar),
escalation requests and policy steps, notification outcomes. Each names the event it answers as its cause."""

from __future__ import annotations

from datetime import datetime

from libs.contracts import (
    PROVIDER_TENANT,
    Contract,
    EscalationRequested,
    EscalationStepStarted,
    IncidentRef,
    NotificationDeadLettered,
    NotificationDelivered,
    PageAcknowledged,
    PageResolved,
    ScheduleOverrideAdded,
    ScheduleOverrideRemoved,
    SlaBreached,
    SlaClockOpening,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClocksStarted,
    SlaClockStopped,
    SlaWarning,
)
from libs.events import Envelope, event_for
from services.escalation.domain.acklinks import AckLink
from services.escalation.domain.clock import Firing, Restart, SlaClock, is_late
from services.escalation.domain.notifications import Delivery, Status
from services.escalation.domain.run import EscalationRun
from services.escalation.store.overrides import OverrideRow

SOURCE = "escalation"


def _event(payload: IncidentRef, tenant: str, cause: Envelope | None) -> Envelope:
    return event_for(payload, source=SOURCE, tenant=tenant, subject=payload.incident_id, cause=cause)


def clocks_started(clocks: list[SlaClock], cause: Envelope) -> Envelope:
    """One incident's opening clocks in one event: one publish and one delivery per consumer, not one per clock."""
    first = clocks[0]
    assert all(c.incident_id == first.incident_id for c in clocks)
    opening = [SlaClockOpening(clock=c.clock, priority=c.priority, target_s=c.target_s, started_at=c.started_at,
                               due_at=c.due_at, calendar=c.calendar, coverage=c.coverage, warn_at=list(c.warn_at))
               for c in clocks]  # fmt: skip
    payload = SlaClocksStarted(incident_id=first.incident_id, number=first.number, clocks=opening)
    return _event(payload, first.tenant, cause)


def clock_stopped(c: SlaClock, cause: Envelope) -> Envelope:
    """`c` as it stopped: the coverage time it counted, and whether it met its target."""
    at = c.stopped_at
    assert at is not None
    payload = SlaClockStopped(incident_id=c.incident_id, number=c.number, clock=c.clock, stopped_at=at,
                              elapsed_s=(at - c.started_at).total_seconds(), met=c.breached_at is None,
                              calendar=c.calendar, coverage_s=c.counted_s(at), paused_s=c.paused_s)  # fmt: skip
    return _event(payload, c.tenant, cause)


def clock_paused(c: SlaClock, cause: Envelope) -> Envelope:
    """`c` as it paused: the coverage time counted so far."""
    assert c.paused_at is not None and c.pause_reason is not None
    payload = SlaClockPaused(incident_id=c.incident_id, number=c.number, clock=c.clock, reason=c.pause_reason,
                             paused_at=c.paused_at, counted_s=c.counted_s(c.paused_at),
                             calendar=c.calendar)  # fmt: skip
    return _event(payload, c.tenant, cause)


def clock_resumed(r: Restart, reason: str, cause: Envelope) -> Envelope:
    """Off hold, or reopened: the clock counts again from `r.at`, its deadline moved by `r.gap_s`."""
    c = r.clock
    payload = SlaClockResumed(incident_id=c.incident_id, number=c.number, clock=c.clock, reason=reason,
                              resumed_at=r.at, paused_s=r.gap_s, due_at=c.due_at, calendar=c.calendar)  # fmt: skip
    return _event(payload, c.tenant, cause)


def clock_retargeted(before: SlaClock, after: SlaClock, at: datetime, cause: Envelope) -> Envelope:
    payload = SlaClockRetargeted(incident_id=after.incident_id, number=after.number, clock=after.clock,
                                 from_priority=before.priority, priority=after.priority, target_s=after.target_s,
                                 due_at=after.due_at, at=at, calendar=after.calendar)  # fmt: skip
    return _event(payload, after.tenant, cause)


def fired(f: Firing) -> list[Envelope]:
    """The warnings a firing reached, in order, then its breach; the timer is their only cause."""
    c = f.clock
    found = []
    for fraction, point in f.warnings:
        warning = SlaWarning(incident_id=c.incident_id, number=c.number, clock=c.clock, priority=c.priority,
                             fraction=fraction, warn_at=point, due_at=c.due_at, fired_at=f.at,
                             late=is_late(point, f.at), tier=c.tier, calendar=c.calendar)  # fmt: skip
        found.append(_event(warning, c.tenant, None))
    if f.breached:
        breach = SlaBreached(incident_id=c.incident_id, number=c.number, clock=c.clock, priority=c.priority,
                             due_at=c.due_at, breached_at=f.at, late=f.late, tier=c.tier, calendar=c.calendar,
                             target_s=c.target_s)  # fmt: skip
        found.append(_event(breach, c.tenant, None))
    return found


def escalation_requested(
    of: SlaClock | EscalationRun, *, from_tier: int, to_tier: int, reason: str, at: datetime, cause: Envelope | None
) -> Envelope:
    """Ask triage (which owns the incident) to move it up to `to_tier`."""
    payload = EscalationRequested(incident_id=of.incident_id, number=of.number, from_tier=from_tier,
                                  to_tier=to_tier, reason=reason, at=at)  # fmt: skip
    return _event(payload, of.tenant, cause)


def step_started(run: EscalationRun, *, reason: str, cause: Envelope | None) -> Envelope:
    """The run reached the step it is on (its targets are paged)."""
    s = run.current
    payload = EscalationStepStarted(incident_id=run.incident_id, number=run.number, policy=run.policy, step=run.step,
                                    round=run.round, tier=s.tier, group=s.group, notify=s.notify,
                                    at=run.step_started_at, due_at=run.step_due_at, reason=reason)  # fmt: skip
    return _event(payload, run.tenant, cause)


def notification_outcome(d: Delivery, status: Status, error: str | None, at: datetime) -> Envelope:
    """A notification delivered, or dead-lettered after its last attempt."""
    kind = NotificationDelivered if status == "delivered" else NotificationDeadLettered
    payload = kind(incident_id=d.incident_id, number=d.number, notification_id=d.id, target=d.target, kind=d.kind,
                   trigger=d.trigger, attempts=d.attempts, status=status, last_error=error, at=at, person=d.person,
                   schedule=d.schedule)  # fmt: skip
    return _event(payload, d.tenant, None)


def override_changed(row: OverrideRow, *, removed: bool, correlation_id: str | None) -> Envelope:
    """An override added to a schedule, or removed from it; a provider schedule's under PROVIDER_TENANT."""
    common = {"schedule": row.schedule, "override_id": row.id, "user": row.user, "start": row.start, "end": row.end}
    if removed:
        assert row.removed_by and row.removed_at
        payload: Contract = ScheduleOverrideRemoved(**common, by=row.removed_by, at=row.removed_at)
    else:
        payload = ScheduleOverrideAdded(**common, by=row.created_by, at=row.created_at, note=row.note)
    return event_for(payload, source=SOURCE, tenant=row.tenant or PROVIDER_TENANT, subject=row.schedule,
                     correlation_id=correlation_id)  # fmt: skip


def page_answered(link: AckLink, at: datetime, correlation_id: str | None) -> Envelope:
    """Someone used a page's link: triage applies the action as them."""
    kind = PageAcknowledged if link.action == "acknowledge" else PageResolved
    payload = kind(incident_id=link.incident_id, number=link.number, person=link.person, by=link.acts_as,
                   notification_id=link.notification_id, method=link.method, at=at)  # fmt: skip
    return event_for(payload, source=SOURCE, tenant=link.tenant, subject=link.incident_id,
                     correlation_id=correlation_id)  # fmt: skip
