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
    started_at: datetime | None = None  # when the source says the problem began
    received_at: datetime
    # received_at - started_at (>= 0), kept so reporting can compute mean time to detect.
    detection_delay_s: float | None = None


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
    type: str = "incident"  # incident | request (a service request, opened by hand)
    queue: str | None = None  # where routing put it, e.g. tier-1, security
    routing_rule: str | None = None  # the routing rule that matched (default: none did)
    parent_id: str | None = None  # the provider incident it is a child of


class IncidentAlertAdded(IncidentRef):
    """A repeat of an open incident's dedup key: counted, not a new incident."""

    alert_id: str
    occurrences: int
    severity: Severity
    last_seen: datetime
    dedup_key: str | None = None
    correlated: bool = False  # another dedup key on the same CI, grouped into this incident


class IncidentAcknowledged(IncidentRef):
    by: str
    at: datetime


class IncidentResolved(IncidentRef):
    by: str
    at: datetime
    reason: str  # alert_resolved | manual
    alert_id: str | None = None  # the resolving alert, when a monitoring tool resolved it
    resolution_code: str | None = None  # set when a person resolves
    first_contact: bool | None = None  # fixed at first contact (first-contact resolution rate)


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
    by: str | None = None  # a person who escalated by hand; None when the escalation service asked


class EscalationRequested(IncidentRef):
    """escalation -> triage: move the incident up a tier (triage owns the incident and applies it)."""

    from_tier: int
    to_tier: int
    reason: str
    at: datetime


class EscalationStepStarted(IncidentRef):
    """escalation -> everyone: the incident's escalation policy reached a step (its targets are paged)."""

    policy: str  # "default" or "category:<name>"
    step: int  # 0-based
    round: int  # 0 on the first pass, 1.. on repeats
    tier: int
    group: str | None = None
    notify: list[str] = []
    at: datetime
    due_at: datetime | None  # when the step runs out unacknowledged
    reason: str


class SlaClockStarted(IncidentRef):
    clock: Clock
    priority: str
    target_s: float
    started_at: datetime
    due_at: datetime
    calendar: str = "24x7"
    coverage: dict = {}  # the full calendar (libs.calendar.calendar_for(coverage) rebuilds it)
    warn_at: list[float] = []  # warning fractions of the target this clock keeps


class SlaClockStopped(IncidentRef):
    clock: Clock
    stopped_at: datetime
    elapsed_s: float
    met: bool
    calendar: str = "24x7"
    coverage_s: float | None = None  # coverage time counted against the target (pauses excluded)
    paused_s: float = 0.0  # coverage time spent paused


class SlaBreached(IncidentRef):
    clock: Clock
    priority: str
    due_at: datetime
    breached_at: datetime
    late: bool  # fired after its time, e.g. the service was down when it fell due
    tier: int
    calendar: str = "24x7"
    target_s: float | None = None


class SlaClockPaused(IncidentRef):
    """escalation -> reporting: the resolution clock stopped counting (on hold pending customer/vendor)."""

    clock: Clock
    reason: str
    paused_at: datetime
    counted_s: float  # coverage time counted so far
    calendar: str


class SlaClockResumed(IncidentRef):
    """escalation -> reporting: the clock counts again; its deadline moved by the coverage time paused."""

    clock: Clock
    reason: str
    resumed_at: datetime
    paused_s: float  # coverage time of this pause
    due_at: datetime  # the new deadline
    calendar: str


class SlaClockRetargeted(IncidentRef):
    """escalation -> reporting: the incident's priority changed; the clock now runs to that priority's target
    (from the contract it opened under), counted from its original start."""

    clock: Clock
    from_priority: str
    priority: str
    target_s: float
    due_at: datetime
    at: datetime
    calendar: str


class SlaWarning(IncidentRef):
    """escalation -> everyone: a clock reached a warning fraction of its target."""

    clock: Clock
    priority: str
    fraction: float
    warn_at: datetime
    due_at: datetime
    fired_at: datetime
    late: bool
    tier: int
    calendar: str


class NotificationOutcome(IncidentRef):
    """escalation -> reporting: a notification was delivered, or dead-lettered after its last attempt."""

    notification_id: str
    target: str
    kind: str  # webhook | slack | email
    trigger: str
    attempts: int
    status: Literal["delivered", "dead"]
    last_error: str | None = None
    at: datetime


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
    "escalation.step_started": EscalationStepStarted,
    "sla.clock_started": SlaClockStarted,
    "sla.clock_stopped": SlaClockStopped,
    "sla.breached": SlaBreached,
    "sla.clock_paused": SlaClockPaused,
    "sla.clock_resumed": SlaClockResumed,
    "sla.clock_retargeted": SlaClockRetargeted,
    "sla.warning": SlaWarning,
    "notification.delivered": NotificationOutcome,
    "notification.dead_lettered": NotificationOutcome,
    "change.created": ChangeEvent,
    "change.submitted": ChangeEvent,
    "change.vote_cast": ChangeEvent,
    "change.approved": ChangeEvent,
    "change.rejected": ChangeEvent,
    "change.window_started": ChangeWindow,
    "change.window_ended": ChangeWindow,
    "intake.change_received": ChangeSignalReceived,
}


def parse(envelope: Envelope) -> Contract:
    """Validate an envelope's data against the contract registered for its type."""
    return REGISTRY[envelope.short_type].model_validate(envelope.data)


class IncidentInProgress(IncidentRef):
    """triage -> everyone: someone started work on the incident (it left new/acknowledged, or came back)."""

    by: str
    at: datetime


class IncidentAssigned(IncidentRef):
    assignee: str | None  # None: unassigned
    previous: str | None
    by: str
    at: datetime


class IncidentNoteAdded(IncidentRef):
    by: str
    at: datetime
    text: str
    internal: bool  # a work note, hidden from client tokens


REGISTRY.update(
    {
        "incident.in_progress": IncidentInProgress,
        "incident.assigned": IncidentAssigned,
        "incident.note_added": IncidentNoteAdded,
    }
)
