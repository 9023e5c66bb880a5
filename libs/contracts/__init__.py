"""Every payload that crosses a service boundary: one class per event type, which it names in `TYPE` (the
short form used in subjects and subscriber tables, e.g. `alert.received`).

Events are named in the past tense. The runtime parses a consumed envelope's data into its type's class
once (libs.subscriptions); `parse(envelope)` does the same for anyone else.
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
    CHANGE_MOVES,
    ChangeApproved,
    ChangeAssessment,
    ChangeCancelled,
    ChangeClosed,
    ChangeCompleted,
    ChangeCreated,
    ChangeEvent,
    ChangeFailed,
    ChangeImplementing,
    ChangeIncidentCleared,
    ChangeIncidentLinked,
    ChangeRejected,
    ChangeReview,
    ChangeScheduled,
    ChangeSubmitted,
    ChangeVoteCast,
    ChangeWindow,
    ChangeWindowEnded,
    ChangeWindowStarted,
    UnmanagedChangeLinked,
    UnmanagedChangeRecorded,
)
from libs.contracts.config import (
    PROVIDER_TENANT,
    ConfigApplied,
    ConfigChanges,
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
from libs.contracts.oncall import (
    PageAcknowledged,
    PageAnswered,
    PageResolved,
    ScheduleOverrideAdded,
    ScheduleOverrideRemoved,
)
from libs.contracts.signals import (
    ControlResultRecorded,
    HeartbeatReceived,
    RecoveryTestRecorded,
)
from libs.contracts.sla import (
    EscalationRequested,
    EscalationStepStarted,
    NotificationDeadLettered,
    NotificationDelivered,
    NotificationOutcome,
    SlaBreached,
    SlaClockOpening,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClocksStarted,
    SlaClockStarted,
    SlaClockStopped,
    SlaWarning,
    each_clock_started,
)
from libs.events import Envelope

EVENT_TYPES: tuple[type[Contract], ...] = (
    AlertReceived,
    ChangeSignalReceived,
    HeartbeatReceived,
    RecoveryTestRecorded,
    ControlResultRecorded,
    IncidentOpened,
    IncidentAlertAdded,
    IncidentAcknowledged,
    IncidentInProgress,
    IncidentHeld,
    IncidentResumed,
    IncidentAssigned,
    IncidentEscalated,
    IncidentPriorityChanged,
    IncidentNoteAdded,
    IncidentResolved,
    IncidentReopened,
    IncidentClosed,
    EscalationRequested,
    EscalationStepStarted,
    SlaClocksStarted,
    SlaClockStarted,
    SlaClockStopped,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaWarning,
    SlaBreached,
    NotificationDelivered,
    NotificationDeadLettered,
    ScheduleOverrideAdded,
    ScheduleOverrideRemoved,
    PageAcknowledged,
    PageResolved,
    *CHANGE_MOVES.values(),
    ChangeWindowStarted,
    ChangeWindowEnded,
    ChangeIncidentLinked,
    ChangeIncidentCleared,
    UnmanagedChangeRecorded,
    UnmanagedChangeLinked,
    ConfigApplied,
)
REGISTRY: dict[str, type[Contract]] = {c.TYPE: c for c in EVENT_TYPES}


def type_of(contract: type[Contract]) -> str:
    """The short event type a contract class stands for (`IncidentOpened` -> `incident.opened`). A service may
    declare a type of its own that never travels the bus (triage's dead-letter fallback); a base class shared
    by several types (ChangeEvent) stands for none."""
    if not contract.TYPE or REGISTRY.get(contract.TYPE, contract) is not contract:
        raise TypeError(f"{contract.__name__} is not an event type (a base shared by several types?)")
    return contract.TYPE


def parse(envelope: Envelope) -> Contract:
    """Validate an envelope's data against the contract registered for its type."""
    return REGISTRY[envelope.short_type].model_validate(envelope.data)


__all__ = [
    "CHANGE_MOVES",
    "EVENT_TYPES",
    "PROVIDER_TENANT",
    "REGISTRY",
    "AlertReceived",
    "ChangeApproved",
    "ChangeAssessment",
    "ChangeCancelled",
    "ChangeClosed",
    "ChangeCompleted",
    "ChangeCreated",
    "ChangeEvent",
    "ChangeFailed",
    "ChangeImplementing",
    "ChangeIncidentCleared",
    "ChangeIncidentLinked",
    "ChangeRejected",
    "ChangeReview",
    "ChangeScheduled",
    "ChangeSignalReceived",
    "ChangeSubmitted",
    "ChangeVoteCast",
    "ChangeWindow",
    "ChangeWindowEnded",
    "ChangeWindowStarted",
    "Clock",
    "ConfigApplied",
    "ConfigChanges",
    "Contract",
    "ControlResultRecorded",
    "EscalationRequested",
    "EscalationStepStarted",
    "HeartbeatReceived",
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
    "NotificationDeadLettered",
    "NotificationDelivered",
    "NotificationOutcome",
    "PageAcknowledged",
    "PageAnswered",
    "PageResolved",
    "RecoveryTestRecorded",
    "ScheduleOverrideAdded",
    "ScheduleOverrideRemoved",
    "Severity",
    "SlaBreached",
    "SlaClockOpening",
    "SlaClockPaused",
    "SlaClockResumed",
    "SlaClockRetargeted",
    "SlaClockStarted",
    "SlaClockStopped",
    "SlaClocksStarted",
    "SlaWarning",
    "UnmanagedChangeLinked",
    "UnmanagedChangeRecorded",
    "each_clock_started",
    "parse",
    "type_of",
]
