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
    status: Literal["firing", "resolved"]
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


REGISTRY: dict[str, type[Contract]] = {
    "alert.received": AlertReceived,
    "incident.opened": IncidentOpened,
    "incident.alert_added": IncidentAlertAdded,
    "incident.acknowledged": IncidentAcknowledged,
    "incident.resolved": IncidentResolved,
    "incident.escalated": IncidentEscalated,
    "escalation.requested": EscalationRequested,
    "sla.clock_started": SlaClockStarted,
    "sla.clock_stopped": SlaClockStopped,
    "sla.breached": SlaBreached,
    "change.created": ChangeEvent,
    "change.submitted": ChangeEvent,
    "change.vote_cast": ChangeEvent,
    "change.approved": ChangeEvent,
    "change.rejected": ChangeEvent,
}


def parse(envelope: Envelope) -> Contract:
    """Validate an envelope's data against the contract registered for its type."""
    return REGISTRY[envelope.short_type].model_validate(envelope.data)
