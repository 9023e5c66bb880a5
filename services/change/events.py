"""The events change raises, built from its domain objects (contracts in libs/contracts/)."""

from __future__ import annotations

from datetime import datetime

from libs.contracts import (
    CHANGE_MOVES,
    ChangeIncidentCleared,
    ChangeIncidentLinked,
    ChangeWindowEnded,
    ChangeWindowStarted,
    Contract,
    UnmanagedChangeLinked,
    UnmanagedChangeRecorded,
)
from libs.events import Envelope, event_for
from services.change.domain.changes import ChangeRequest, IncidentLink, Step
from services.change.domain.unmanaged import OpenedIncident, UnmanagedChange

SOURCE = "change"


def _raise(
    payload: Contract,
    *,
    tenant: str,
    subject: str | None,
    cause: Envelope | None = None,
    correlation_id: str | None = None,
) -> Envelope:
    """The envelope of `payload`, typed by its class (`TYPE`)."""
    return event_for(payload, source=SOURCE, tenant=tenant, subject=subject, cause=cause, correlation_id=correlation_id)


def change_event(
    c: ChangeRequest, step: Step, *, correlation_id: str | None = None, cause: Envelope | None = None
) -> Envelope:
    """`change.<state>` for a move (`change.vote_cast` for a vote that did not decide)."""
    payload = CHANGE_MOVES[step.kind](
        change_id=c.id,
        number=c.number,
        change_type=c.change_type,
        ci=c.ci,
        title=c.title,
        state=step.to_state,
        from_state=step.from_state,
        by=step.by,
        at=step.at,
        approvals=c.approvals,
        quorum=c.quorum,
        comment=step.comment,
        cis=c.cis,
        risk=c.risk,
        planned_start=c.planned_start,
        planned_end=c.planned_end,
        outcome=c.outcome,
    )
    return _raise(payload, tenant=c.tenant, subject=c.id, cause=cause, correlation_id=correlation_id)


def window_event(c: ChangeRequest, edge: str, at: datetime, *, correlation_id: str | None = None) -> Envelope:
    """`change.window_started` / `change.window_ended`: triage treats alerts on `cis` as expected between.

    A window opened early (implementation started before the planned start) starts when it opened: triage
    expects alerts from `starts_at`, so the planned start would leave the early work's alerts paging people.
    """
    assert c.planned_start and c.planned_end
    starts_at = min(c.planned_start, at) if edge == "start" else min(c.planned_start, c.started_at or c.planned_start)
    kind = ChangeWindowStarted if edge == "start" else ChangeWindowEnded
    payload = kind(
        change_id=c.id,
        number=c.number,
        title=c.title,
        change_type=c.change_type,
        cis=c.cis,
        starts_at=starts_at,
        ends_at=c.planned_end,
        at=at,
    )
    return _raise(payload, tenant=c.tenant, subject=c.id, correlation_id=correlation_id)


def link_event(
    c: ChangeRequest, link: IncidentLink, *, at: datetime, cause: Envelope | None = None, cid: str | None = None
) -> Envelope:
    """`change.incident_linked`, or `change.incident_cleared` once a reviewer has cleared the link."""
    kind = ChangeIncidentCleared if link.cleared_at else ChangeIncidentLinked
    payload = kind(
        change_id=c.id,
        number=c.number,
        change_type=c.change_type,
        incident_id=link.incident_id,
        incident_number=link.incident_number,
        priority=link.priority,
        ci=link.ci,
        opened_at=link.opened_at,
        counts_as_failed=link.counts_as_failed,
        outcome=c.outcome,
        at=at,
        by=link.cleared_by,
        reason=link.clear_reason,
    )
    return _raise(payload, tenant=c.tenant, subject=c.id, cause=cause, correlation_id=cid)


def unmanaged_link_event(
    change: UnmanagedChange, incident: OpenedIncident, *, at: datetime, cause: Envelope
) -> Envelope:
    """`change.unmanaged_linked`: an incident opened on a CI soon after a tool reported `change` on it."""
    assert change.ci is not None  # only a change on a CI is linked to incidents
    payload = UnmanagedChangeLinked(
        signal_id=change.signal_id,
        source=change.source,
        summary=change.summary,
        ci=change.ci,
        changed_at=change.at,
        incident_id=incident.incident_id,
        incident_number=incident.incident_number,
        priority=incident.priority,
        opened_at=incident.opened_at,
        at=at,
    )
    return _raise(payload, tenant=change.tenant, subject=change.signal_id, cause=cause)


def unmanaged_recorded_event(change: UnmanagedChange, *, cause: Envelope) -> Envelope:
    """`change.unmanaged_recorded`: a change a tool reported went on the tenant's calendar."""
    payload = UnmanagedChangeRecorded(
        signal_id=change.signal_id,
        source=change.source,
        integration=change.integration,
        summary=change.summary,
        ci=change.ci,
        at=change.at,
    )
    return _raise(payload, tenant=change.tenant, subject=None, cause=cause)
