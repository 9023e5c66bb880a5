"""Payloads escalation publishes: SLA clocks, escalation requests and steps, notification outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from libs.contracts.base import (
    Clock,
    IncidentRef,
)


class EscalationRequested(IncidentRef):
    """escalation -> triage: move the incident up a tier (triage owns the incident and applies it)."""

    TYPE: ClassVar[str] = "escalation.requested"

    from_tier: int
    to_tier: int
    reason: str
    at: datetime


class EscalationStepStarted(IncidentRef):
    """escalation -> everyone: the incident's escalation policy reached a step (its targets are paged)."""

    TYPE: ClassVar[str] = "escalation.step_started"

    policy: str  # "default" or "category:<name>"
    step: int  # 0-based
    round: int  # 0 on the first pass, 1.. on repeats
    tier: int
    group: str | None = None
    notify: list[str] = []
    at: datetime
    due_at: datetime | None  # when the step runs out unacknowledged
    reason: str


class SlaClockOpening(BaseModel):
    """One clock of an incident's opening, without the incident ref: an entry of SlaClocksStarted, and the
    fields of the SlaClockStarted it replaced (declared once here for both)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    clock: Clock
    priority: str
    target_s: float
    started_at: datetime
    due_at: datetime
    calendar: str = "24x7"
    coverage: dict = {}  # the full calendar (libs.calendar.calendar_for(coverage) rebuilds it)
    warn_at: list[float] = []  # warning fractions of the target this clock keeps


class SlaClockStarted(SlaClockOpening, IncidentRef):
    """One clock started. Since issue 17 escalation publishes SlaClocksStarted (all of an incident's opening
    clocks at once); this type is still read, because ledgers and streams hold it."""

    TYPE: ClassVar[str] = "sla.clock_started"


class SlaClocksStarted(IncidentRef):
    """escalation -> everyone: an incident opened and all its clocks started, in one event (one publish and one
    delivery per consumer instead of one per clock). Each entry reads as the SlaClockStarted it replaces, which
    is still read for the history that holds it."""

    TYPE: ClassVar[str] = "sla.clocks_started"

    clocks: list[SlaClockOpening]


def each_clock_started(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An sla.clocks_started payload (as JSON, read by field) as the sla.clock_started payloads it stands for,
    in order: the incident ref with each clock's fields, so a reader folds both kinds the same way."""
    clocks = data.get("clocks")
    if not isinstance(clocks, list):  # a ledger row is JSON as recorded: a wrong shape starts no clock, raises nothing
        return []
    ref = {k: v for k, v in data.items() if k != "clocks"}
    return [ref | dict(c) for c in clocks if isinstance(c, Mapping) and "clock" in c]  # readers index by "clock"


class SlaClockStopped(IncidentRef):
    TYPE: ClassVar[str] = "sla.clock_stopped"

    clock: Clock
    stopped_at: datetime
    elapsed_s: float
    met: bool
    calendar: str = "24x7"
    coverage_s: float | None = None  # coverage time counted against the target (pauses excluded)
    paused_s: float = 0.0  # coverage time spent paused


class SlaBreached(IncidentRef):
    TYPE: ClassVar[str] = "sla.breached"

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

    TYPE: ClassVar[str] = "sla.clock_paused"

    clock: Clock
    reason: str
    paused_at: datetime
    counted_s: float  # coverage time counted so far
    calendar: str


class SlaClockResumed(IncidentRef):
    """escalation -> reporting: the clock counts again; its deadline moved by the coverage time paused."""

    TYPE: ClassVar[str] = "sla.clock_resumed"

    clock: Clock
    reason: str
    resumed_at: datetime
    paused_s: float  # coverage time of this pause
    due_at: datetime  # the new deadline
    calendar: str


class SlaClockRetargeted(IncidentRef):
    """escalation -> reporting: the incident's priority changed; the clock now runs to that priority's target
    (from the contract it opened under), counted from its original start."""

    TYPE: ClassVar[str] = "sla.clock_retargeted"

    clock: Clock
    from_priority: str
    priority: str
    target_s: float
    due_at: datetime
    at: datetime
    calendar: str


class SlaWarning(IncidentRef):
    """escalation -> everyone: a clock reached a warning fraction of its target."""

    TYPE: ClassVar[str] = "sla.warning"

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
    person: str | None = None  # a page to a person (its `kind` is their contact method), not a tenant's target
    schedule: str | None = None  # the schedule they were paged for


class NotificationDelivered(NotificationOutcome):
    TYPE: ClassVar[str] = "notification.delivered"


class NotificationDeadLettered(NotificationOutcome):
    TYPE: ClassVar[str] = "notification.dead_lettered"
