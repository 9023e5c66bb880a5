"""Change's pure rules: lifecycle table, quorum, and who may vote (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.config import Cab, Tenant
from libs.lifecycle import IllegalTransition
from services.change.domain import (
    LIFECYCLE,
    AlreadyVoted,
    ChangeCreate,
    ChangeRequest,
    NotCabMember,
    OwnChange,
    cast_vote,
    open_change,
    quorum_for,
    submit,
    transition,
)

AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
CAB = Cab(members=["alice", "bob", "carol"], quorum=2, emergency_quorum=1)


def tenant() -> Tenant:
    return Tenant.model_validate(
        {
            "id": "acme",
            "name": "Acme",
            "code": "ACME",
            "cab": CAB.model_dump(),
            "contract": {
                "tier": "premium",
                "sla": {p: {"respond": "1h", "resolve": "1d"} for p in ("P1", "P2", "P3", "P4", "P5")},
            },
            "services": [{"id": "erp-db", "name": "ERP database", "category": "infrastructure"}],
        }
    )


def change(change_type: str = "normal", by: str = "alice") -> ChangeRequest:
    body = ChangeCreate(tenant="acme", change_type=change_type, ci="erp-db", title="Patch ERP")  # type: ignore[arg-type]
    c, step = open_change(tenant(), body, id="c1", number="ACME-CHG-1", by=by, at=AT)
    assert (step.kind, step.from_state, step.to_state) == ("created", None, "draft")
    return c


def submitted(change_type: str = "normal", by: str = "alice") -> ChangeRequest:
    c = change(change_type, by)
    submit(c, by=by, at=AT)
    return c


def vote(c: ChangeRequest, voter: str, kind: str = "approve", cab: Cab = CAB):  # type: ignore[no-untyped-def]
    return cast_vote(c, voter=voter, vote=kind, comment=None, cab=cab, at=AT)  # type: ignore[arg-type]


def test_quorum_by_change_type() -> None:
    assert [quorum_for(CAB, t) for t in ("standard", "normal", "emergency")] == [0, 2, 1]  # type: ignore[arg-type]
    assert change("emergency").quorum == 1


def test_illegal_transition_lists_allowed_actions() -> None:
    with pytest.raises(IllegalTransition) as exc:
        transition("draft", "approve")
    assert exc.value.allowed == ["submit"]
    assert transition("submitted", "reject") == "rejected"
    assert all(
        set(LIFECYCLE.transitions[s].values()) <= set(LIFECYCLE.transitions) for s in LIFECYCLE.transitions
    )  # table is closed


def test_standard_change_is_approved_on_submit() -> None:
    c = change("standard")
    steps = submit(c, by="alice", at=AT)
    assert [s.kind for s in steps] == ["submitted", "approved"]
    assert c.state == "approved" and c.votes == []


def test_normal_change_needs_quorum_of_approvals() -> None:
    c = submitted()
    ballot, steps = vote(c, "bob")
    assert ballot.voter == "bob" and [s.kind for s in steps] == ["vote_cast"] and c.state == "submitted"
    assert not steps[0].moved
    _, steps = vote(c, "carol")
    assert [s.kind for s in steps] == ["vote_cast", "approved"] and c.state == "approved" and c.approvals == 2


def test_emergency_change_needs_one_approval() -> None:
    c = submitted("emergency")
    _, steps = vote(c, "bob")
    assert [s.kind for s in steps] == ["vote_cast", "approved"]


def test_any_rejection_rejects() -> None:
    c = submitted()
    vote(c, "bob")
    _, steps = vote(c, "carol", "reject")
    assert steps[-1].kind == "rejected" and steps[-1].from_state == "submitted" and c.state == "rejected"


def test_voter_must_be_on_the_cab() -> None:
    with pytest.raises(NotCabMember):
        vote(submitted(), "eve")


def test_requester_cannot_vote_on_own_change() -> None:
    with pytest.raises(OwnChange):
        vote(submitted(by="alice"), "alice")


def test_each_member_votes_once() -> None:
    c = submitted()
    vote(c, "bob")
    with pytest.raises(AlreadyVoted):
        vote(c, "bob", "reject")
    assert c.state == "submitted" and len(c.votes) == 1


@pytest.mark.parametrize("state", ["draft", "approved", "rejected"])
def test_votes_only_count_while_submitted(state: str) -> None:
    c = change()
    c.state = state
    with pytest.raises(IllegalTransition) as exc:
        vote(c, "bob")
    assert exc.value.allowed == sorted(LIFECYCLE.transitions[state]) and c.votes == []


def test_submit_twice_is_illegal() -> None:
    with pytest.raises(IllegalTransition) as exc:
        submit(submitted(), by="alice", at=AT)
    assert exc.value.allowed == ["approve", "reject"]
