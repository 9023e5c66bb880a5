"""Change's pure rules: lifecycle tables per type, boards and quorum, votes, outcome (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.config import Tenant, load_config
from libs.lifecycle import IllegalTransition
from services.change.api.schemas import ChangeCreate
from services.change.domain.approvals import (
    AlreadyVoted,
    NotCabMember,
    OwnChange,
    QuorumUnreachable,
    awaiting,
    board_for,
    cast_vote,
    check_reachable,
)
from services.change.domain.changes import (
    LIFECYCLES,
    STATES,
    ChangeRequest,
    IncidentLink,
    InvalidChange,
    move,
    outcome_of,
    transition,
)
from services.change.domain.schedule import OutsideWindow, check_start
from services.change.domain.workflow import assess, finish, open_change
from tests.conftest import TEST_CONFIG

AT = datetime(2030, 1, 6, 9, 0, tzinfo=UTC)
CONFIG = load_config(TEST_CONFIG)
ACME, GLOBEX = CONFIG.tenant("acme"), CONFIG.tenant("globex")
assert ACME and GLOBEX


def change(change_type: str = "normal", by: str = "alice", tenant=ACME, **fields) -> ChangeRequest:  # type: ignore[no-untyped-def]
    body = ChangeCreate.model_validate(
        {"tenant": tenant.id, "change_type": change_type, "ci": "erp-db", "title": "Patch ERP"} | fields
    )
    c, step = open_change(tenant, body, id="c1", number="ACME-CHG-1", by=by, at=AT)
    assert (step.kind, step.from_state, step.to_state) == ("created", None, "draft")
    return c


def in_vote(change_type: str = "normal", by: str = "alice", tenant=ACME, risk: str = "low", **fields) -> ChangeRequest:  # type: ignore[no-untyped-def]
    c = change(change_type, by, tenant, **fields)
    move(c, "submit", by=by, at=AT)
    if change_type == "normal":
        assess(c, tenant, risk=risk, impact="medium", by="alice", at=AT, comment=None)
    return c


def vote(c: ChangeRequest, voter: str, kind: str = "approve", tenant=ACME):  # type: ignore[no-untyped-def]
    return cast_vote(c, voter=voter, vote=kind, comment=None, board=board_for(tenant, c), at=AT)  # type: ignore[arg-type]


def test_every_lifecycle_is_closed_and_uses_known_states() -> None:
    for lifecycle in LIFECYCLES.values():
        for state, moves in lifecycle.transitions.items():
            assert state in STATES and set(moves.values()) <= set(lifecycle.transitions)


@pytest.mark.parametrize("change_type", ["normal", "emergency", "standard"])
def test_cancel_is_allowed_only_before_implementing(change_type: str) -> None:
    table = LIFECYCLES[change_type].transitions
    cancellable = {s for s, moves in table.items() if "cancel" in moves}
    assert "implementing" not in cancellable and not cancellable & {"completed", "failed", "review", "closed"}
    assert {"draft", "submitted", "scheduled"} <= cancellable


def test_normal_goes_through_assessment_emergency_skips_it_standard_needs_no_vote() -> None:
    assert transition("submitted", "assess") == "assessment"
    with pytest.raises(IllegalTransition) as exc:
        transition("submitted", "approve")
    assert exc.value.allowed == ["assess", "cancel"]
    assert transition("submitted", "approve", "emergency") == "approved"
    assert transition("submitted", "schedule", "standard") == "scheduled"
    assert "approve" not in LIFECYCLES["standard"].allowed("submitted")


def test_review_is_mandatory_for_emergencies_and_failures() -> None:
    assert LIFECYCLES["normal"].allowed("completed") == ["close", "review"]
    assert LIFECYCLES["emergency"].allowed("completed") == ["review"]
    for t in LIFECYCLES:
        assert LIFECYCLES[t].allowed("failed") == ["review"]


def test_quorum_by_change_type_and_by_risk_rule() -> None:
    assert change().quorum == 2 and change("emergency").quorum == 1
    assert change("standard", template="wifi-firmware", ci=None).quorum == 0
    # acme: high-risk network changes need all three members (so one raised by eve, not a member)
    router = in_vote(ci="core-router", risk="high", by="eve")
    assert router.quorum == 3
    assert in_vote(ci="core-router", risk="low").quorum == 2
    assert in_vote(risk="high").quorum == 2  # erp-db is infrastructure


def test_normal_change_needs_quorum_of_approvals() -> None:
    c = in_vote()
    ballot, steps = vote(c, "bob")
    assert ballot.voter == "bob" and [s.kind for s in steps] == ["vote_cast"] and c.state == "assessment"
    assert awaiting(c, board_for(ACME, c)) == {"cab_approvals": 1, "client_approval": False}
    _, steps = vote(c, "carol")
    assert [s.kind for s in steps] == ["vote_cast", "approved"] and c.state == "approved" and c.approvals == 2


def test_client_approval_is_required_when_configured() -> None:
    c = in_vote(tenant=GLOBEX, ci="crm")
    _, steps = vote(c, "bob", tenant=GLOBEX)
    assert c.state == "assessment" and awaiting(c, board_for(GLOBEX, c)) == {
        "cab_approvals": 0,
        "client_approval": True,
    }
    _, steps = vote(c, "globex-approver", tenant=GLOBEX)
    assert steps[-1].kind == "approved"


def test_client_approver_votes_only_where_client_approval_is_required() -> None:
    with pytest.raises(NotCabMember):
        vote(in_vote(), "globex-approver")  # acme does not ask for client approval
    c = in_vote("emergency", tenant=GLOBEX, ci="crm")  # nor does any emergency
    with pytest.raises(NotCabMember):
        vote(c, "globex-approver", tenant=GLOBEX)


def test_any_rejection_rejects() -> None:
    c = in_vote()
    vote(c, "bob")
    _, steps = vote(c, "carol", "reject")
    assert steps[-1].kind == "rejected" and steps[-1].from_state == "assessment" and c.state == "rejected"


def test_rejection_rule_from_config() -> None:
    tenant = ACME.model_copy(update={"cab": ACME.cab.model_copy(update={"rejections": 2})})
    c = in_vote(tenant=tenant)
    vote(c, "bob", "reject", tenant=tenant)
    assert c.state == "assessment"
    vote(c, "carol", "reject", tenant=tenant)
    assert c.state == "rejected"


def test_voter_rules() -> None:
    with pytest.raises(NotCabMember):
        vote(in_vote(), "eve")
    with pytest.raises(OwnChange):
        vote(in_vote(by="alice"), "alice")
    c = in_vote()
    vote(c, "bob")
    with pytest.raises(AlreadyVoted):
        vote(c, "bob", "reject")
    assert c.state == "assessment" and len(c.votes) == 1


@pytest.mark.parametrize("state", ["draft", "submitted", "approved", "rejected", "scheduled"])
def test_votes_only_count_in_assessment(state: str) -> None:
    c = change()
    c.state = state
    with pytest.raises(IllegalTransition) as exc:
        vote(c, "bob")
    assert exc.value.allowed == LIFECYCLES["normal"].allowed(state) and c.votes == []


def test_bad_drafts_are_refused() -> None:
    with pytest.raises(InvalidChange, match="template"):
        change("standard")  # a standard change comes from a template
    with pytest.raises(InvalidChange) as exc:
        change("standard", template="wifi-firmware", ci="erp-db")
    assert exc.value.details[0]["field"] == "ci"
    with pytest.raises(InvalidChange):
        change(ci="crm")  # globex's
    with pytest.raises(InvalidChange):
        change(planned_start=AT + timedelta(hours=2), planned_end=AT + timedelta(hours=1))
    with pytest.raises(InvalidChange):
        change(template="wifi-firmware")  # templates are for standard changes


def test_standard_change_takes_title_and_cis_from_its_template() -> None:
    c = change("standard", template="wifi-firmware", ci=None, title=None)
    assert (c.title, c.cis, c.ci) == ("Office Wi-Fi firmware update", ["office-wifi"], "office-wifi")


def test_outcome_counts_p1_p2_links_until_cleared() -> None:
    c = in_vote("emergency")
    for action in ("approve", "schedule", "start"):
        move(c, action, by="alice", at=AT)
    p3 = IncidentLink("i3", "ACME-3", "P3", "erp-db", AT, AT)
    assert finish(c, [p3], failed=False, by="eve", at=AT, comment=None).to_state == "completed"
    assert c.outcome == "successful"
    p1 = IncidentLink("i1", "ACME-1", "P1", "erp-db", AT, AT)
    assert outcome_of(c, [p3, p1]) == "failed"
    p1.cleared_at = AT
    assert outcome_of(c, [p3, p1]) == "successful"
    c.result = "failed"
    assert outcome_of(c, []) == "failed"


@pytest.mark.parametrize(
    ("at", "refused"),
    [
        (timedelta(hours=-2), "before its approved window"),
        (timedelta(hours=-1), None),  # changes.early_start (default 1 h) before the window is fine
        (timedelta(minutes=30), None),
        (timedelta(hours=1), "after its approved window ended"),  # the window is [start, end)
        (timedelta(hours=3), "after its approved window ended"),
    ],
)
def test_start_outside_the_approved_window_needs_a_reason(at, refused):
    c = change(
        planned_start=(AT + timedelta(days=1)).isoformat(), planned_end=(AT + timedelta(days=1, hours=1)).isoformat()
    )
    when = c.planned_start + at
    if refused is None:
        assert check_start(c, at=when, early=ACME.changes.early_start, override_reason=None) == []
        return
    with pytest.raises(OutsideWindow, match=refused) as exc:
        check_start(c, at=when, early=ACME.changes.early_start, override_reason=None)
    assert exc.value.details[0]["earliest_start"] == (c.planned_start - timedelta(hours=1)).isoformat()
    [taken] = check_start(c, at=when, early=ACME.changes.early_start, override_reason="outage fix agreed with Acme")
    assert (taken["kind"], taken["reason"]) == ("outside_window", "outage fix agreed with Acme")


def with_cab(**cab: object) -> Tenant:
    """Acme with another CAB (delegates need tokens only in a whole config; a tenant alone does not check)."""
    return Tenant.model_validate(ACME.model_dump() | {"cab": ACME.cab.model_dump() | cab})


def test_a_quorum_out_of_reach_is_refused_when_voting_would_begin() -> None:
    """The issue's change: alice raises it, the high-risk network board (alice, bob, carol) needs all three."""
    c = change(ci="core-router")
    move(c, "submit", by="alice", at=AT)
    with pytest.raises(QuorumUnreachable) as refused:
        assess(c, ACME, risk="high", impact="high", by="alice", at=AT, comment=None)
    assert refused.value.status == 409 and refused.value.code == "quorum_unreachable"
    assert str(refused.value) == (
        "ACME-CHG-1 cannot reach its quorum: cab.rules.0 (network, high risk; members alice, bob, carol) needs 3 "
        "approvals and alice, who raised it, may not vote on it, leaving 2 eligible voters"
    )
    [detail] = refused.value.details
    assert detail == {"board": "cab.rules.0", "members": ["alice", "bob", "carol"], "delegates": [], "quorum": 3,
                      "requester": "alice", "eligible": 2, "way_out": detail["way_out"]}  # fmt: skip
    assert detail["way_out"].startswith("add delegates to cab.rules.0 in tierline.yaml")
    # The same change raised by someone off the board is fine: every member may vote.
    check_reachable(in_vote(ci="core-router", risk="high", by="eve"), board_for(ACME, c))


def test_delegates_vote_in_place_of_the_member_who_raised_the_change() -> None:
    tenant = with_cab(rules=[{"category": "network", "risk": "high", "members": ["alice", "bob"], "quorum": 2,
                              "delegates": ["dave"]}])  # fmt: skip
    c = in_vote(ci="core-router", risk="high", tenant=tenant)  # alice raised it: dave stands in
    assert awaiting(c, board_for(tenant, c)) == {"cab_approvals": 2, "client_approval": False}
    vote(c, "bob", tenant=tenant)
    _, steps = vote(c, "dave", tenant=tenant)
    assert c.state == "approved" and steps[-1].by == "dave"
    with pytest.raises(OwnChange):
        vote(in_vote(ci="core-router", risk="high", tenant=tenant), "alice", tenant=tenant)
    # Raised by someone off the board, the members vote themselves: a delegate has no place to stand in.
    off = in_vote(ci="core-router", risk="high", tenant=tenant, by="eve")
    with pytest.raises(NotCabMember):
        vote(off, "dave", tenant=tenant)


def test_an_emergency_board_out_of_reach_is_refused_at_submit() -> None:
    tenant = with_cab(emergency_quorum=3)  # alice, bob, carol: alice's own emergency leaves two voters
    c = change("emergency", tenant=tenant)
    move(c, "submit", by="alice", at=AT)
    with pytest.raises(QuorumUnreachable):
        check_reachable(c, board_for(tenant, c))
    check_reachable(c, board_for(with_cab(emergency_quorum=3, delegates=["dave"]), c))  # a delegate makes three
