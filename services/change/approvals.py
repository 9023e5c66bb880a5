"""Who approves a change and when the votes decide it: CAB boards per category/risk, client approval. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.config import CabRule, Tenant
from services.change.domain import ChangeRefused, ChangeRequest, Step, Vote, VoteKind, move


class NotCabMember(ChangeRefused):
    code, status = "not_cab_member", 403


class OwnChange(ChangeRefused):
    code, status = "own_change", 403


class AlreadyVoted(ChangeRefused):
    code, status = "already_voted", 409


@dataclass(frozen=True)
class Board:
    """The change advisory board one change answers to."""

    members: frozenset[str]
    quorum: int  # approvals from members
    rejections: int  # rejections that reject
    client_approvers: frozenset[str]  # the tenant's client_approver users
    client_required: bool  # one of them must approve as well

    def may_vote(self, voter: str) -> bool:
        return voter in self.members or (self.client_required and voter in self.client_approvers)


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
    cab, rule = tenant.cab, _rule(tenant, change.cis, change.risk)
    members = cab.members if rule is None or rule.members is None else rule.members
    if change.change_type == "standard":
        quorum = 0
    elif change.change_type == "emergency":
        quorum = (rule.emergency_quorum if rule else None) or cab.emergency_quorum
    else:
        quorum = rule.quorum if rule else cab.quorum
    clients = frozenset(t.user for t in tenant.api_tokens if t.role == "client_approver")
    # The expedited emergency board does not wait for the client; its review afterwards is mandatory instead.
    client_required = cab.client_approval and change.change_type == "normal"
    return Board(frozenset(members), quorum, cab.rejections, clients, client_required)


def awaiting(change: ChangeRequest, board: Board) -> dict[str, int | bool]:
    """What a change still waits for before it is approved. The bar is the quorum the change captured (at
    creation, and again when assessed), so a later CAB reconfiguration does not move it."""
    approved_by = {v.voter for v in change.votes if v.vote == "approve"}
    return {
        "cab_approvals": max(0, change.quorum - len(approved_by & board.members)),
        "client_approval": board.client_required and not (approved_by & board.client_approvers),
    }


def cast_vote(
    change: ChangeRequest, *, voter: str, vote: VoteKind, comment: str | None, board: Board, at: datetime
) -> tuple[Vote, list[Step]]:
    """Record one vote; the last approval needed approves, the `rejections`-th rejection rejects."""
    if not board.may_vote(voter):
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
