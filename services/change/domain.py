"""Change's pure rules: change types, the approval lifecycle, CAB votes and quorum. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.config import Cab, Tenant
from libs.lifecycle import Lifecycle

ChangeType = Literal["standard", "normal", "emergency"]
VoteKind = Literal["approve", "reject"]
STATES = ("draft", "submitted", "approved", "rejected")

# state -> {action: next state}. The foundation's subset of the ITIL flow: assessment, scheduling,
# implementing, review and close add rows here; everything else reads the table.
LIFECYCLE = Lifecycle(
    "a change",
    {
        "draft": {"submit": "submitted"},
        "submitted": {"approve": "approved", "reject": "rejected"},
        "approved": {},
        "rejected": {},
    },
)
transition = LIFECYCLE.next


class ChangeCreate(BaseModel):
    """POST /v1/changes."""

    model_config = ConfigDict(extra="forbid")

    tenant: Annotated[str, Field(min_length=1, max_length=40)]
    change_type: ChangeType
    ci: Annotated[str, Field(min_length=1, max_length=255)]
    title: Annotated[str, Field(min_length=1, max_length=255)]
    description: Annotated[str, Field(max_length=8192)] | None = None


class VoteCast(BaseModel):
    """POST /v1/changes/{ref}/approve|reject (the body is optional)."""

    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, Field(max_length=2000)] | None = None


class ChangeRefused(Exception):
    """A rule said no; `code` is the machine-readable reason clients see."""

    code = "refused"


class NotCabMember(ChangeRefused):
    code = "not_cab_member"


class OwnChange(ChangeRefused):
    code = "own_change"


class AlreadyVoted(ChangeRefused):
    code = "already_voted"


@dataclass
class Vote:
    voter: str
    vote: VoteKind
    comment: str | None
    at: datetime


@dataclass
class Step:
    """One thing that happened to a change: it becomes one event, and a timeline row if the state moved."""

    kind: str  # created | submitted | vote_cast | approved | rejected
    from_state: str | None
    to_state: str
    by: str
    at: datetime
    comment: str | None = None

    @property
    def moved(self) -> bool:
        return self.from_state != self.to_state


@dataclass
class ChangeRequest:
    id: str
    tenant: str
    number: str
    change_type: ChangeType
    ci: str
    title: str
    description: str | None
    state: str
    requested_by: str
    quorum: int
    created_at: datetime
    updated_at: datetime
    votes: list[Vote] = field(default_factory=list)

    @property
    def approvals(self) -> int:
        return sum(1 for v in self.votes if v.vote == "approve")


def quorum_for(cab: Cab, change_type: ChangeType) -> int:
    """Approvals needed: none for a pre-approved standard change, the expedited quorum for an emergency."""
    return {"standard": 0, "normal": cab.quorum, "emergency": cab.emergency_quorum}[change_type]


def open_change(
    tenant: Tenant, body: ChangeCreate, *, id: str, number: str, by: str, at: datetime
) -> tuple[ChangeRequest, Step]:
    """A new draft; its quorum is fixed now so a later CAB reconfiguration does not move the bar."""
    change = ChangeRequest(
        id=id,
        tenant=tenant.id,
        number=number,
        change_type=body.change_type,
        ci=body.ci,
        title=body.title,
        description=body.description,
        state="draft",
        requested_by=by,
        quorum=quorum_for(tenant.cab, body.change_type),
        created_at=at,
        updated_at=at,
    )
    return change, Step("created", None, change.state, by, at)


def _move(change: ChangeRequest, action: str, *, by: str, at: datetime, comment: str | None = None) -> Step:
    before = change.state
    change.state = transition(before, action)
    change.updated_at = at
    return Step(change.state, before, change.state, by, at, comment)


def submit(change: ChangeRequest, *, by: str, at: datetime) -> list[Step]:
    steps = [_move(change, "submit", by=by, at=at)]
    if change.change_type == "standard":  # pre-approved template: no CAB round
        steps.append(_move(change, "approve", by=by, at=at, comment="standard change: pre-approved"))
    return steps


def cast_vote(
    change: ChangeRequest, *, voter: str, vote: VoteKind, comment: str | None, cab: Cab, at: datetime
) -> tuple[Vote, list[Step]]:
    """Record one CAB vote; the quorum-th approval approves, any rejection rejects."""
    if voter not in cab.members:
        raise NotCabMember(f"{voter} is not on this tenant's change advisory board")
    if voter == change.requested_by:
        raise OwnChange("the requester cannot vote on their own change")
    # The table decides where votes count (today only `submitted`), so a vote after a decision is refused.
    transition(change.state, vote)
    if any(v.voter == voter for v in change.votes):
        raise AlreadyVoted(f"{voter} has already voted on {change.number}")
    ballot = Vote(voter, vote, comment, at)
    change.votes.append(ballot)
    change.updated_at = at
    steps = [Step("vote_cast", change.state, change.state, voter, at, comment)]
    if vote == "reject" or change.approvals >= change.quorum:
        steps.append(_move(change, vote, by=voter, at=at, comment=comment))
    return ballot, steps
