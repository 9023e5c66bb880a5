"""Every payload that crosses a service boundary, keyed by event type (the short form, e.g. `alert.received`).

Events are named in the past tense; a consumer validates `Envelope.data` with `parse(envelope)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from libs.events import Envelope

Severity = Literal["critical", "error", "warning", "info"]
Clock = Literal["response", "resolution"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AlertReceived(Contract):
    """intake -> triage: one normalised signal from a monitoring tool."""

    alert_id: str
    source: str  # the tool: generic, alertmanager, grafana, pagerduty
    integration: str  # name of the integration key that authenticated it
    dedup_key: str
    # `acknowledged` comes from tools that can acknowledge (PagerDuty Events v2 `event_action: acknowledge`).
    status: Literal["firing", "acknowledged", "resolved"]
    severity: Severity
    summary: str
    description: str | None = None
    ci: str | None = None
    labels: dict[str, str] = {}
    started_at: datetime | None = None
    received_at: datetime


class IncidentRef(Contract):
    incident_id: str
    number: str  # per-tenant, e.g. ACME-42


class IncidentOpened(IncidentRef):
    title: str
    priority: str
    impact: str
    urgency: str
    category: str | None
    ci: str | None
    tier: int
    dedup_key: str | None
    source: str
    opened_at: datetime
    detected_at: datetime | None = None
    alert_id: str | None = None  # the alert that opened it (None when opened by hand)


class IncidentAlertAdded(IncidentRef):
    """A repeat of an open incident's dedup key: counted, not a new incident."""

    alert_id: str
    occurrences: int
    severity: Severity
    last_seen: datetime


class IncidentAcknowledged(IncidentRef):
    by: str
    at: datetime


class IncidentResolved(IncidentRef):
    by: str
    at: datetime
    reason: str  # alert_resolved | manual
    alert_id: str | None = None  # the resolving alert, when a monitoring tool resolved it


HoldReason = Literal["pending_customer", "pending_vendor"]


class IncidentHeld(IncidentRef):
    """triage -> everyone: the incident went on hold; the resolution clock may pause (escalation decides)."""

    reason: HoldReason
    by: str
    at: datetime
    comment: str | None = None


class IncidentResumed(IncidentRef):
    """triage -> everyone: the incident came off hold (back to in progress)."""

    reason: HoldReason  # the hold that ended
    by: str
    at: datetime


class IncidentPriorityChanged(IncidentRef):
    from_priority: str
    to_priority: str
    by: str
    at: datetime
    reason: str


class IncidentReopened(IncidentRef):
    by: str
    at: datetime
    reason: str  # alert_refired | manual


class IncidentClosed(IncidentRef):
    by: str
    at: datetime


class IncidentEscalated(IncidentRef):
    from_tier: int
    to_tier: int
    reason: str
    at: datetime


class EscalationRequested(IncidentRef):
    """escalation -> triage: move the incident up a tier (triage owns the incident and applies it)."""

    from_tier: int
    to_tier: int
    reason: str
    at: datetime


class SlaClockStarted(IncidentRef):
    clock: Clock
    priority: str
    target_s: float
    started_at: datetime
    due_at: datetime
    calendar: str = "24x7"


class SlaClockStopped(IncidentRef):
    clock: Clock
    stopped_at: datetime
    elapsed_s: float
    met: bool


class SlaBreached(IncidentRef):
    clock: Clock
    priority: str
    due_at: datetime
    breached_at: datetime
    late: bool  # fired after its time, e.g. the service was down when it fell due
    tier: int


class ChangeEvent(Contract):
    """change -> everyone: a change request moved; `change.<state>` names the transition."""

    change_id: str
    number: str
    change_type: Literal["standard", "normal", "emergency"]
    ci: str
    title: str
    state: str
    from_state: str | None
    by: str
    at: datetime
    approvals: int = 0
    quorum: int = 0
    comment: str | None = None
    cis: list[str] = []  # every affected CI (`ci` is the first)
    risk: Literal["low", "medium", "high"] | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    # successful | failed once implemented; a completed change with a linked P1/P2 incident reads failed.
    outcome: Literal["successful", "failed"] | None = None


class ChangeWindow(Contract):
    """change -> triage, escalation, reporting: an approved change's planned window began or ended."""

    change_id: str
    number: str
    title: str
    change_type: Literal["standard", "normal", "emergency"]
    cis: list[str]
    starts_at: datetime
    ends_at: datetime
    at: datetime


class ChangeSignalReceived(Contract):
    """intake -> change: a monitoring/deploy tool reported a change (PagerDuty change events): an unmanaged change."""

    signal_id: str
    source: str
    integration: str
    summary: str
    ci: str | None = None
    timestamp: datetime | None = None
    received_at: datetime
    custom_details: dict = {}
    links: list[dict] = []


class ChangeIncidentLinked(Contract):
    """change -> reporting: an incident opened on a changed CI soon after the change is a suspected cause.

    A P1/P2 link makes the change count as failed (`outcome`) until a reviewer clears it
    (`change.incident_cleared`, same payload with `by` and `reason`)."""

    change_id: str
    number: str
    change_type: Literal["standard", "normal", "emergency"]
    incident_id: str
    incident_number: str
    priority: str
    ci: str | None
    opened_at: datetime
    counts_as_failed: bool
    outcome: Literal["successful", "failed"] | None
    at: datetime
    by: str | None = None
    reason: str | None = None


class UnmanagedChangeRecorded(Contract):
    """change -> reporting: a change a tool reported (intake.change_received) went on the change calendar."""

    signal_id: str
    source: str
    integration: str
    summary: str
    ci: str | None
    at: datetime


REGISTRY: dict[str, type[Contract]] = {
    "alert.received": AlertReceived,
    "incident.opened": IncidentOpened,
    "incident.alert_added": IncidentAlertAdded,
    "incident.acknowledged": IncidentAcknowledged,
    "incident.resolved": IncidentResolved,
    "incident.escalated": IncidentEscalated,
    "incident.held": IncidentHeld,
    "incident.resumed": IncidentResumed,
    "incident.priority_changed": IncidentPriorityChanged,
    "incident.reopened": IncidentReopened,
    "incident.closed": IncidentClosed,
    "escalation.requested": EscalationRequested,
    "sla.clock_started": SlaClockStarted,
    "sla.clock_stopped": SlaClockStopped,
    "sla.breached": SlaBreached,
    "change.created": ChangeEvent,
    "change.submitted": ChangeEvent,
    "change.vote_cast": ChangeEvent,
    "change.approved": ChangeEvent,
    "change.rejected": ChangeEvent,
    "change.window_started": ChangeWindow,
    "change.window_ended": ChangeWindow,
    "intake.change_received": ChangeSignalReceived,
    "change.assessment": ChangeEvent,
    "change.scheduled": ChangeEvent,
    "change.implementing": ChangeEvent,
    "change.completed": ChangeEvent,
    "change.failed": ChangeEvent,
    "change.review": ChangeEvent,
    "change.closed": ChangeEvent,
    "change.cancelled": ChangeEvent,
    "change.incident_linked": ChangeIncidentLinked,
    "change.incident_cleared": ChangeIncidentLinked,
    "change.unmanaged_recorded": UnmanagedChangeRecorded,
}


def parse(envelope: Envelope) -> Contract:
    """Validate an envelope's data against the contract registered for its type."""
    return REGISTRY[envelope.short_type].model_validate(envelope.data)
