"""Who approves a change and when the votes decide it: CAB boards per category/risk, their delegates, client
approval, and a quorum out of reach refused before anyone waits for it. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.config import CabRule, Tenant, eligible_voters
from services.change.domain.changes import ChangeRefused, ChangeRequest, Step, Vote, VoteKind, move


class NotCabMember(ChangeRefused):
    code, status = "not_cab_member", 403


class OwnChange(ChangeRefused):
    code, status = "own_change", 403


class AlreadyVoted(ChangeRefused):
    code, status = "already_voted", 409


class QuorumUnreachable(ChangeRefused):
    code, status = "quorum_unreachable", 409


@dataclass(frozen=True)
class Board:
    """The change advisory board one change answers to."""

    name: str  # where it is configured: cab, or cab.rules.N
    members: frozenset[str]
    delegates: frozenset[str]  # who may vote in place of a member who raised the change
    quorum: int  # approvals from members
    rejections: int  # rejections that reject
    client_approvers: frozenset[str]  # the tenant's client_approver users
    client_required: bool  # one of them must approve as well
    label: str = ""  # the board as a person finds it in tierline.yaml

    def voters(self, requester: str) -> set[str]:
        """Whose approvals count towards the quorum of a change `requester` raised."""
        return eligible_voters(self.members, self.delegates, requester)

    def may_vote(self, voter: str, requester: str) -> bool:
        on_board = voter in self.members or voter in self.voters(requester)
        return on_board or (self.client_required and voter in self.client_approvers)


def _rule(tenant: Tenant, cis: list[str], risk: str | None) -> CabRule | None:
    """The strictest rule matching any affected CI's category and the assessed risk (unset fields match all)."""
    categories = {tenant.ci_index[c].category for c in cis if c in tenant.ci_index}
    matching = [
        r
        for r in tenant.cab.rules
        if (r.category is None or r.category in categories) and (r.risk is None or r.risk == risk)
    ]
    return max(matching, key=lambda r: r.quorum, default=None)


def board_for(tenant: Tenant, change: ChangeRequest) -> Board:
    cab = tenant.cab
    spec = cab.board(_rule(tenant, change.cis, change.risk))
    if change.change_type == "standard":
        quorum = 0
    elif change.change_type == "emergency":
        quorum = spec.emergency_quorum
    else:
        quorum = spec.quorum
    clients = frozenset(t.user for t in tenant.api_tokens if t.role == "client_approver")
    # The expedited emergency board does not wait for the client; its review afterwards is mandatory instead.
    client_required = cab.client_approval and change.change_type == "normal"
    return Board(spec.name, frozenset(spec.members), frozenset(spec.delegates), quorum, cab.rejections, clients,
                 client_required, spec.label)  # fmt: skip


def check_reachable(change: ChangeRequest, board: Board) -> None:
    """Refuse (409, nothing changes) a change about to wait for votes its board cannot cast: a member who
    raised it may not vote, so without delegates a small board's quorum may be out of reach for good."""
    voters = board.voters(change.requested_by)
    if len(voters) >= change.quorum:
        return
    if change.requested_by in board.members:
        why = f"{change.requested_by}, who raised it, may not vote on it"
        way_out = (f"add delegates to {board.name} in tierline.yaml (people who may vote in place of a member "
                   "who raised the change), or have another member raise the change")  # fmt: skip
    else:
        why = "its board has too few members"
        way_out = f"add members or delegates to {board.name} in tierline.yaml"
    message = (f"{change.number} cannot reach its quorum: {board.label} needs {change.quorum} approvals and "
               f"{why}, leaving {len(voters)} eligible voter{'s' if len(voters) != 1 else ''}")  # fmt: skip
    detail = {"board": board.name, "members": sorted(board.members), "delegates": sorted(board.delegates),
              "quorum": change.quorum, "requester": change.requested_by, "eligible": len(voters),
              "way_out": way_out}  # fmt: skip
    raise QuorumUnreachable(message, [detail])


def awaiting(change: ChangeRequest, board: Board) -> dict[str, int | bool]:
    """What a change still waits for before it is approved. The bar is the quorum the change captured (at
    creation, and again when assessed), so a later CAB reconfiguration does not move it."""
    approved_by = {v.voter for v in change.votes if v.vote == "approve"}
    return {
        "cab_approvals": max(0, change.quorum - len(approved_by & board.voters(change.requested_by))),
        "client_approval": board.client_required and not (approved_by & board.client_approvers),
    }


def cast_vote(
    change: ChangeRequest, *, voter: str, vote: VoteKind, comment: str | None, board: Board, at: datetime
) -> tuple[Vote, list[Step]]:
    """Record one vote; the last approval needed approves, the `rejections`-th rejection rejects."""
    if not board.may_vote(voter, change.requested_by):
        raise NotCabMember(f"{voter} is not on the change advisory board for {change.number}")
    if voter == change.requested_by:
        raise OwnChange("the requester cannot vote on their own change")
    # The lifecycle decides where votes count, so a vote before assessment or after a decision is refused.
    change.lifecycle.next(change.state, vote)
    if any(v.voter == voter for v in change.votes):
        raise AlreadyVoted(f"{voter} has already voted on {change.number}")
    ballot = Vote(voter, vote, comment, at)
    change.votes.append(ballot)
    change.updated_at = at
    steps = [Step("vote_cast", change.state, change.state, voter, at, comment)]
    rejected = sum(1 for v in change.votes if v.vote == "reject") >= board.rejections
    pending = awaiting(change, board)
    if rejected or (pending["cab_approvals"] == 0 and not pending["client_approval"]):
        steps.append(move(change, "reject" if rejected else "approve", by=voter, at=at, comment=comment))
    return ballot, steps
