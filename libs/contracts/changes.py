"""Payloads the change service publishes: transitions, windows, incident links, unmanaged changes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from libs.contracts.base import (
    Contract,
)


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


# One class per `change.<kind>`: a move names the state it reached (`vote_cast` for a vote that decided nothing).
class ChangeCreated(ChangeEvent):
    TYPE: ClassVar[str] = "change.created"


class ChangeSubmitted(ChangeEvent):
    TYPE: ClassVar[str] = "change.submitted"


class ChangeAssessment(ChangeEvent):
    TYPE: ClassVar[str] = "change.assessment"


class ChangeVoteCast(ChangeEvent):
    TYPE: ClassVar[str] = "change.vote_cast"


class ChangeApproved(ChangeEvent):
    TYPE: ClassVar[str] = "change.approved"


class ChangeRejected(ChangeEvent):
    TYPE: ClassVar[str] = "change.rejected"


class ChangeScheduled(ChangeEvent):
    TYPE: ClassVar[str] = "change.scheduled"


class ChangeImplementing(ChangeEvent):
    TYPE: ClassVar[str] = "change.implementing"


class ChangeCompleted(ChangeEvent):
    TYPE: ClassVar[str] = "change.completed"


class ChangeFailed(ChangeEvent):
    TYPE: ClassVar[str] = "change.failed"


class ChangeReview(ChangeEvent):
    TYPE: ClassVar[str] = "change.review"


class ChangeClosed(ChangeEvent):
    TYPE: ClassVar[str] = "change.closed"


class ChangeCancelled(ChangeEvent):
    TYPE: ClassVar[str] = "change.cancelled"


CHANGE_MOVES: dict[str, type[ChangeEvent]] = {
    c.TYPE.removeprefix("change."): c
    for c in (ChangeCreated, ChangeSubmitted, ChangeAssessment, ChangeVoteCast, ChangeApproved, ChangeRejected,
              ChangeScheduled, ChangeImplementing, ChangeCompleted, ChangeFailed, ChangeReview, ChangeClosed,
              ChangeCancelled)
}  # fmt: skip


class ChangeWindow(Contract):
    """change -> triage, escalation, reporting: an approved change's window began or ended.

    `starts_at` is when the window opened: the planned start, or earlier when implementation began early.
    `ends_at` is the planned end; `window_ended` comes at the planned end or when the work ended, if sooner."""

    change_id: str
    number: str
    title: str
    change_type: Literal["standard", "normal", "emergency"]
    cis: list[str]
    starts_at: datetime
    ends_at: datetime
    at: datetime


class ChangeWindowStarted(ChangeWindow):
    TYPE: ClassVar[str] = "change.window_started"


class ChangeWindowEnded(ChangeWindow):
    TYPE: ClassVar[str] = "change.window_ended"


class ChangeIncidentLinked(Contract):
    """change -> reporting: an incident opened on a changed CI soon after the change is a suspected cause.

    A P1/P2 link makes the change count as failed (`outcome`) until a reviewer clears it
    (`change.incident_cleared`, same payload with `by` and `reason`)."""

    TYPE: ClassVar[str] = "change.incident_linked"

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


class ChangeIncidentCleared(ChangeIncidentLinked):
    TYPE: ClassVar[str] = "change.incident_cleared"


class UnmanagedChangeLinked(Contract):
    """change -> triage, reporting: an incident opened on a CI soon after a tool reported a change to it.

    No workflow stands behind an unmanaged change, so the link decides no outcome: it tells whoever works the
    incident what changed just before, and the change calendar which changes were followed by incidents."""

    TYPE: ClassVar[str] = "change.unmanaged_linked"

    signal_id: str
    source: str
    summary: str
    ci: str
    changed_at: datetime  # when the tool says the change happened
    incident_id: str
    incident_number: str
    priority: str
    opened_at: datetime
    at: datetime


class UnmanagedChangeRecorded(Contract):
    """change -> reporting: a change a tool reported (intake.change_received) went on the change calendar."""

    TYPE: ClassVar[str] = "change.unmanaged_recorded"

    signal_id: str
    source: str
    integration: str
    summary: str
    ci: str | None
    at: datetime
