"""Change's pure rules: change types, the ITIL lifecycle per type, and what each move records. No I/O.

Votes and boards are in approvals.py, freezes and conflicts in schedule.py (this package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from libs.config import Risk, Tenant
from libs.lifecycle import Lifecycle

ChangeType = Literal["standard", "normal", "emergency"]
VoteKind = Literal["approve", "reject"]
Outcome = Literal["successful", "failed"]
STATES = (
    "draft",
    "submitted",
    "assessment",
    "approved",
    "rejected",
    "scheduled",
    "implementing",
    "completed",
    "failed",
    "review",
    "closed",
    "cancelled",
)
# Once a change is being implemented it can no longer be cancelled: it completes or fails (and rolls back).
_AFTER_APPROVAL: dict[str, dict[str, str]] = {
    "approved": {"schedule": "scheduled", "cancel": "cancelled"},
    "rejected": {},
    "scheduled": {"start": "implementing", "cancel": "cancelled", "schedule": "scheduled"},  # reschedule
    "implementing": {"complete": "completed", "fail": "failed"},
    "completed": {"review": "review", "close": "closed"},
    "failed": {"review": "review"},  # a failed change is always reviewed
    "review": {"close": "closed"},
    "closed": {},
    "cancelled": {},
}
# state -> {action: next state}, one table per change type; `approve`/`reject` rows are where votes count.
LIFECYCLES: dict[str, Lifecycle] = {
    "normal": Lifecycle(
        "a normal change",
        {
            "draft": {"submit": "submitted", "cancel": "cancelled"},
            "submitted": {"assess": "assessment", "cancel": "cancelled"},
            "assessment": {"approve": "approved", "reject": "rejected", "cancel": "cancelled"},
            **_AFTER_APPROVAL,
        },
    ),
    "emergency": Lifecycle(
        "an emergency change",
        {
            "draft": {"submit": "submitted", "cancel": "cancelled"},
            "submitted": {"approve": "approved", "reject": "rejected", "cancel": "cancelled"},
            **_AFTER_APPROVAL,
            "completed": {"review": "review"},  # review is mandatory before close
        },
    ),
    "standard": Lifecycle(
        "a standard change",
        {
            "draft": {"submit": "submitted", "cancel": "cancelled"},
            "submitted": {"schedule": "scheduled", "cancel": "cancelled"},  # pre-approved: no CAB round
            **{k: v for k, v in _AFTER_APPROVAL.items() if k != "approved"},
        },
    ),
}
LIFECYCLE = LIFECYCLES["normal"]


def transition(state: str, action: str, change_type: str = "normal") -> str:
    return LIFECYCLES[change_type].next(state, action)


class ChangeRefused(Exception):
    """A rule said no; `code` is the machine-readable reason clients see, `status` its HTTP status."""

    code = "refused"
    status = 409

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class InvalidChange(ChangeRefused):
    """The request is well-formed but names something that cannot be (unknown CI, end before start)."""

    code, status = "validation_failed", 422


@dataclass
class Vote:
    voter: str
    vote: VoteKind
    comment: str | None
    at: datetime


@dataclass
class Step:
    """One thing that happened to a change: it becomes one event, and a timeline row if the state moved."""

    kind: str  # created | vote_cast | the state moved to
    from_state: str | None
    to_state: str
    by: str
    at: datetime
    comment: str | None = None

    @property
    def on_timeline(self) -> bool:
        """Every move is, a reschedule (scheduled -> scheduled) too; votes are listed apart."""
        return self.kind != "vote_cast"


@dataclass
class IncidentLink:
    incident_id: str
    incident_number: str
    priority: str
    ci: str | None
    opened_at: datetime
    linked_at: datetime
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_reason: str | None = None

    @property
    def counts_as_failed(self) -> bool:
        return self.priority in ("P1", "P2") and self.cleared_at is None


@dataclass
class ChangeRequest:
    id: str
    tenant: str
    number: str
    change_type: ChangeType
    ci: str  # the first of `cis`, kept for the foundation's contract
    title: str
    description: str | None
    state: str
    requested_by: str
    quorum: int
    created_at: datetime
    updated_at: datetime
    cis: list[str] = field(default_factory=list)
    template: str | None = None
    risk: Risk | None = None
    impact: str | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    implementer: str | None = None
    rollback_plan: str | None = None
    rollback: str | None = None  # what was rolled back, recorded when it failed
    result: Outcome | None = None  # how implementation ended
    outcome: Outcome | None = None  # the result, turned to failed by an uncleared P1/P2 incident link
    started_at: datetime | None = None
    ended_at: datetime | None = None
    overrides: list[dict[str, Any]] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)

    @property
    def approvals(self) -> int:
        return sum(1 for v in self.votes if v.vote == "approve")

    @property
    def lifecycle(self) -> Lifecycle:
        return LIFECYCLES[self.change_type]


def check_cis(tenant: Tenant, cis: list[str], field: str = "cis") -> None:
    if not cis:
        raise InvalidChange("a change affects at least one CI", [{"field": field, "message": "at least one CI"}])
    if unknown := [c for c in cis if c not in tenant.ci_index]:
        known = ", ".join(sorted(tenant.ci_index))
        message = f"not one of the tenant's services: {', '.join(unknown)} (known: {known})"
        raise InvalidChange("unknown CI", [{"field": field, "message": message}])


def check_window(start: datetime | None, end: datetime | None, *, now: datetime) -> None:
    if (start is None) != (end is None):
        raise InvalidChange("a planned window needs both ends", [{"field": "planned_end", "message": "set both"}])
    if start and end and end <= start:
        raise InvalidChange("empty planned window", [{"field": "planned_end", "message": "must be after start"}])
    if end and end <= now:
        raise InvalidChange("planned window is over", [{"field": "planned_end", "message": "is in the past"}])


def move(change: ChangeRequest, action: str, *, by: str, at: datetime, comment: str | None = None) -> Step:
    """Apply one lifecycle action (or raise IllegalTransition); the Step is its timeline row and event."""
    before = change.state
    change.state = change.lifecycle.next(before, action)
    change.updated_at = at
    return Step(change.state, before, change.state, by, at, comment)


def outcome_of(change: ChangeRequest, links: list[IncidentLink]) -> Outcome | None:
    """What reporting counts: failed if implementation failed or a P1/P2 it likely caused stands uncleared."""
    if change.result is None:
        return None
    if change.result == "failed" or any(link.counts_as_failed for link in links):
        return "failed"
    return "successful"
