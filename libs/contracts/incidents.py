"""Payloads triage publishes about incidents (triage owns the incident and its lifecycle)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from libs.contracts.base import (
    HoldReason,
    IncidentRef,
    Severity,
)


class IncidentOpened(IncidentRef):
    TYPE: ClassVar[str] = "incident.opened"

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

    TYPE: ClassVar[str] = "incident.alert_added"

    alert_id: str
    occurrences: int
    severity: Severity
    last_seen: datetime
    dedup_key: str | None = None
    correlated: bool = False  # another dedup key on the same CI, grouped into this incident


class IncidentAcknowledged(IncidentRef):
    TYPE: ClassVar[str] = "incident.acknowledged"

    by: str
    at: datetime


class IncidentResolved(IncidentRef):
    TYPE: ClassVar[str] = "incident.resolved"

    by: str
    at: datetime
    reason: str  # alert_resolved | manual
    alert_id: str | None = None  # the resolving alert, when a monitoring tool resolved it
    resolution_code: str | None = None  # a person's code; auto_resolved when the monitoring tool resolved it
    first_contact: bool | None = None  # fixed at first contact (first-contact resolution rate)


class IncidentHeld(IncidentRef):
    """triage -> everyone: the incident went on hold; the resolution clock may pause (escalation decides)."""

    TYPE: ClassVar[str] = "incident.held"

    reason: HoldReason
    by: str
    at: datetime
    comment: str | None = None


class IncidentResumed(IncidentRef):
    """triage -> everyone: the incident came off hold (back to in progress)."""

    TYPE: ClassVar[str] = "incident.resumed"

    reason: HoldReason  # the hold that ended
    by: str
    at: datetime


class IncidentPriorityChanged(IncidentRef):
    TYPE: ClassVar[str] = "incident.priority_changed"

    from_priority: str
    to_priority: str
    by: str
    at: datetime
    reason: str


class IncidentReopened(IncidentRef):
    TYPE: ClassVar[str] = "incident.reopened"

    by: str
    at: datetime
    reason: str  # alert_refired | manual
    # The state it reopened into: `new` when nobody ever acknowledged it (back in the queue, so escalation
    # pages again), else `in_progress`. None from publishers before this field existed.
    state: Literal["new", "in_progress"] | None = None


class IncidentClosed(IncidentRef):
    TYPE: ClassVar[str] = "incident.closed"

    by: str
    at: datetime


class IncidentEscalated(IncidentRef):
    TYPE: ClassVar[str] = "incident.escalated"

    from_tier: int
    to_tier: int
    reason: str
    at: datetime
    by: str | None = None  # a person who escalated by hand; None when the escalation service asked


class IncidentInProgress(IncidentRef):
    """triage -> everyone: someone started work on the incident (it left new/acknowledged, or came back)."""

    TYPE: ClassVar[str] = "incident.in_progress"

    by: str
    at: datetime


class IncidentAssigned(IncidentRef):
    TYPE: ClassVar[str] = "incident.assigned"

    assignee: str | None  # None: unassigned
    previous: str | None
    by: str
    at: datetime


class IncidentNoteAdded(IncidentRef):
    TYPE: ClassVar[str] = "incident.note_added"

    by: str
    at: datetime
    text: str
    internal: bool  # a work note, hidden from client tokens
