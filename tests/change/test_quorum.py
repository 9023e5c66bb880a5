"""A change its board can never approve is refused when voting would begin, and delegates are the way out
(the running service, the test config's boards; issue 12's ACME-CHG-3)."""

from __future__ import annotations

import copy

import yaml

from tests.change.client import act, change_events, create, get, ok, submitted
from tests.conftest import TEST_CONFIG


def config_with(tmp_path, **cab: object):
    raw = copy.deepcopy(yaml.safe_load(TEST_CONFIG.read_text()))
    acme = next(t for t in raw["tenants"] if t["id"] == "acme")
    acme["cab"].update(cab)
    path = tmp_path / "tierline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def test_a_change_whose_board_cannot_reach_its_quorum_is_refused_at_assessment(settings, start, http):
    svc = await start("change", settings)
    # alice raises it; high risk on the core router brings in the board of alice, bob and carol, quorum 3.
    change = await submitted(http, svc, ci="core-router")
    status, body = await act(http, svc, change, "assess", json={"risk": "high", "impact": "high"})
    assert (status, body["error"]["code"]) == (409, "quorum_unreachable")
    assert "cab.rules.0 (network, high risk; members alice, bob, carol) needs 3 approvals" in body["error"]["message"]
    [detail] = body["error"]["details"]
    assert (detail["board"], detail["requester"], detail["eligible"], detail["quorum"]) == ("cab.rules.0", "alice", 2,
                                                                                           3)  # fmt: skip
    assert "add delegates to cab.rules.0" in detail["way_out"]
    after = await get(http, svc, change["id"])
    assert (after["state"], after["risk"], after["quorum"]) == ("submitted", None, 2)  # nothing changed
    assert [e.short_type for e in await change_events(settings, 2)] == ["change.created", "change.submitted"]
    # Someone else raising the same change is fine: every member may vote on it.
    other = await submitted(http, svc, "eng-token", ci="core-router")
    assert (await ok(http, svc, other, "assess", json={"risk": "high", "impact": "high"}))["quorum"] == 3


async def test_a_delegate_votes_in_place_of_the_member_who_raised_the_change(settings, start, http, tmp_path):
    rule = {"category": "network", "risk": "high", "members": ["alice", "bob", "carol"], "quorum": 3,
            "delegates": ["eve"]}  # fmt: skip
    svc = await start("change", settings.model_copy(update={"config": config_with(tmp_path, rules=[rule])}))
    change = await submitted(http, svc, ci="core-router")
    change = await ok(http, svc, change, "assess", json={"risk": "high", "impact": "high"})
    assert change["awaiting"] == {"cab_approvals": 3, "client_approval": False}
    for voter in ("bob-token", "carol-token", "eng-token"):  # eve, the delegate, casts alice's vote
        change = await ok(http, svc, change, "approve", voter)
    assert change["state"] == "approved"
    assert [v["voter"] for v in change["votes"]] == ["bob", "carol", "eve"]


async def test_an_emergency_whose_board_cannot_reach_its_quorum_is_refused_at_submit(settings, start, http, tmp_path):
    svc = await start("change", settings.model_copy(update={"config": config_with(tmp_path, emergency_quorum=3)}))
    change = await create(http, svc, change_type="emergency")
    status, body = await act(http, svc, change, "submit")
    assert (status, body["error"]["code"]) == (409, "quorum_unreachable")
    assert (await get(http, svc, change["id"]))["state"] == "draft"
    emergency = await create(http, svc, "eng-token", change_type="emergency")  # eve is not on the board
    assert (await ok(http, svc, emergency, "submit", "eng-token"))["state"] == "submitted"
