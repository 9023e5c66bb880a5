"""Every payload that crosses a service boundary, keyed by event type (the short form, e.g. `alert.received`).

Events are named in the past tense; a consumer validates `Envelope.data` with `parse(envelope)`.
"""

from __future__ import annotations

from libs.contracts.base import (
    Clock,
    Contract,
    HoldReason,
    IncidentRef,
    Severity,
)
from libs.contracts.changes import (
    ChangeEvent,
    ChangeIncidentLinked,
    ChangeWindow,
    UnmanagedChangeLinked,
    UnmanagedChangeRecorded,
)
from libs.contracts.incidents import (
    IncidentAcknowledged,
    IncidentAlertAdded,
    IncidentAssigned,
    IncidentClosed,
    IncidentEscalated,
    IncidentHeld,
    IncidentInProgress,
    IncidentNoteAdded,
    IncidentOpened,
    IncidentPriorityChanged,
    IncidentReopened,
    IncidentResolved,
    IncidentResumed,
)
from libs.contracts.intake import (
    AlertReceived,
    ChangeSignalReceived,
)
from libs.contracts.sla import (
    EscalationRequested,
    EscalationStepStarted,
    NotificationOutcome,
    SlaBreached,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaClockStopped,
    SlaWarning,
)
from libs.events import Envelope

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
    "change.unmanaged_linked": UnmanagedChangeLinked,
    "incident.in_progress": IncidentInProgress,
    "incident.assigned": IncidentAssigned,
    "incident.note_added": IncidentNoteAdded,
}


def parse(envelope: Envelope) -> Contract:
    """Validate an envelope's data against the contract registered for its type."""
    return REGISTRY[envelope.short_type].model_validate(envelope.data)


__all__ = [
    "REGISTRY",
    "AlertReceived",
    "ChangeEvent",
    "ChangeIncidentLinked",
    "ChangeSignalReceived",
    "ChangeWindow",
    "Clock",
    "Contract",
    "EscalationRequested",
    "EscalationStepStarted",
    "HoldReason",
    "IncidentAcknowledged",
    "IncidentAlertAdded",
    "IncidentAssigned",
    "IncidentClosed",
    "IncidentEscalated",
    "IncidentHeld",
    "IncidentInProgress",
    "IncidentNoteAdded",
    "IncidentOpened",
    "IncidentPriorityChanged",
    "IncidentRef",
    "IncidentReopened",
    "IncidentResolved",
    "IncidentResumed",
    "NotificationOutcome",
    "Severity",
    "SlaBreached",
    "SlaClockPaused",
    "SlaClockResumed",
    "SlaClockRetargeted",
    "SlaClockStarted",
    "SlaClockStopped",
    "SlaWarning",
    "UnmanagedChangeLinked",
    "UnmanagedChangeRecorded",
    "parse",
]
