"""Every path of the ITIL workflow through the running service: standard from a template, normal to closed,
failure with rollback, emergency with mandatory review, cancellation, client approval, risk-based boards."""

from __future__ import annotations

import pytest

from libs.testing import stream_envelopes
from tests.change.client import SAT, H, act, call, change_events, create, get, in_vote, ok, scheduled, window


@pytest.fixture
async def svc(settings, start):
    return await start("change", settings)


async def test_standard_change_from_a_template_is_scheduled_on_submit_without_a_vote(settings, svc, http):
    wifi = {"change_type": "standard", "template": "wifi-firmware", "ci": None, "title": None}
    change = await create(http, svc, "eng-token", **wifi, **window(SAT))
    assert (change["title"], change["cis"], change["quorum"]) == ("Office Wi-Fi firmware update", ["office-wifi"], 0)
    change = await ok(http, svc, change, "submit", "eng-token")
    assert change["state"] == "scheduled" and change["votes"] == []
    assert [t["to_state"] for t in change["timeline"]] == ["draft", "submitted", "scheduled"]
    change = await ok(
        http, svc, change, "start", "eng-token", json={"override_reason": "test: ahead of its planned window"}
    )
    change = await ok(http, svc, change, "complete", "eng-token")
    change = await ok(http, svc, change, "close")  # a successful standard change needs no review
    assert (change["state"], change["outcome"]) == ("closed", "successful")
    events = await change_events(settings, 8)
    assert [e.short_type for e in events] == [
        "change.created",
        "change.submitted",
        "change.scheduled",
        "change.implementing",
        "change.window_started",  # work began before the planned window: the CI is under change from now
        "change.completed",
        "change.window_ended",  # and no longer once it is done
        "change.closed",
    ]
    assert events[2].data["planned_start"] == SAT.isoformat().replace("+00:00", "Z")
    assert events[-1].data["outcome"] == "successful"


async def test_standard_change_needs_a_known_template_and_stays_within_it(svc, http):
    url = f"{svc.url}/v1/changes"
    for fields, field in [
        ({"change_type": "standard"}, "template"),
        ({"change_type": "standard", "template": "nope"}, "template"),
        ({"change_type": "standard", "template": "wifi-firmware"}, "ci"),  # erp-db is not in the template
        ({"change_type": "normal", "template": "wifi-firmware"}, "template"),  # a normal change has none
    ]:
        async with http.post(
            url, json={"tenant": "acme", "ci": "erp-db", "title": "x"} | fields, headers=_alice()
        ) as r:
            body = await r.json()
        assert r.status == 422 and body["error"]["details"][0]["field"] == field, body


def _alice() -> dict[str, str]:
    return {"Authorization": "Bearer alice-token"}


async def test_normal_change_walks_to_closed_with_every_transition_on_its_timeline(settings, svc, http):
    change = await in_vote(http, svc, "eng-token", implementer="eve", **window(SAT))
    change = await ok(http, svc, change, "approve", "bob-token")
    change = await ok(http, svc, change, "approve", "carol-token")
    status, body = await act(http, svc, change, "schedule", "eng-token")  # engineers do not schedule
    assert status == 403
    change = await ok(http, svc, change, "schedule", json={"comment": "agreed with Acme"})
    assert change["allowed_actions"] == ["cancel", "schedule", "start"]  # schedule again: reschedule
    change = await ok(
        http, svc, change, "start", "eng-token", json={"override_reason": "test: ahead of its planned window"}
    )
    status, body = await act(http, svc, change, "cancel")
    assert status == 409 and body["error"]["details"] == [{"allowed": ["complete", "fail"]}]
    change = await ok(http, svc, change, "complete", "eng-token", json={"comment": "patched"})
    assert (change["result"], change["outcome"]) == ("successful", "successful") and change["ended_at"]
    change = await ok(http, svc, change, "review", json={"comment": "PIR done"})
    change = await ok(http, svc, change, "close")
    assert [(t["from_state"], t["to_state"], t["actor"]) for t in change["timeline"]] == [
        (None, "draft", "eve"),
        ("draft", "submitted", "eve"),
        ("submitted", "assessment", "alice"),
        ("assessment", "approved", "carol"),
        ("approved", "scheduled", "alice"),
        ("scheduled", "implementing", "eve"),
        ("implementing", "completed", "eve"),
        ("completed", "review", "alice"),
        ("review", "closed", "alice"),
    ]
    assert change["timeline"][4]["comment"] == "agreed with Acme" and all(t["at"] for t in change["timeline"])
    events = await change_events(settings, 13)
    moves = [
        e.short_type
        for e in events
        if e.short_type not in ("change.vote_cast", "change.window_started", "change.window_ended")
    ]
    assert moves == ["change.created"] + [f"change.{t['to_state']}" for t in change["timeline"][1:]]
    assert all(e.data["state"] == e.short_type.removeprefix("change.") for e in events if e.short_type in moves[1:])


async def test_failure_records_the_rollback_and_must_be_reviewed(settings, svc, http):
    change = await scheduled(http, svc, **window(SAT))
    change = await ok(
        http, svc, change, "start", "eng-token", json={"override_reason": "test: ahead of its planned window"}
    )
    status, body = await act(http, svc, change, "fail", "eng-token")
    assert status == 422 and body["error"]["details"][0]["field"] == "rollback"
    change = await ok(http, svc, change, "fail", "eng-token", json={"rollback": "restored the snapshot"})
    assert (change["state"], change["rollback"], change["outcome"]) == ("failed", "restored the snapshot", "failed")
    assert change["timeline"][-1]["comment"] == "rolled back: restored the snapshot"
    status, body = await act(http, svc, change, "close")
    assert status == 409 and body["error"]["details"] == [{"allowed": ["review"]}]
    change = await ok(http, svc, change, "review")
    change = await ok(http, svc, change, "close")
    assert (change["state"], change["outcome"]) == ("closed", "failed")
    events = await change_events(settings, 13)
    failed = next(e for e in events if e.short_type == "change.failed")
    assert failed.data["outcome"] == "failed"


async def test_emergency_change_skips_assessment_and_must_be_reviewed_before_close(settings, svc, http):
    change = await create(http, svc, change_type="emergency", **window(SAT))
    change = await ok(http, svc, change, "submit")
    assert change["awaiting"] == {"cab_approvals": 1, "client_approval": False}
    status, _ = await act(http, svc, change, "assess", json={"risk": "high", "impact": "high"})
    assert status == 409
    change = await ok(http, svc, change, "approve", "bob-token")  # the emergency quorum is one
    assert change["state"] == "approved"
    change = await ok(http, svc, change, "schedule")
    change = await ok(http, svc, change, "start", json={"override_reason": "test: ahead of its planned window"})
    change = await ok(http, svc, change, "complete")
    status, body = await act(http, svc, change, "close")
    assert status == 409 and body["error"]["details"] == [{"allowed": ["review"]}]
    change = await ok(http, svc, change, "review", json={"comment": "why it was urgent"})
    change = await ok(http, svc, change, "close")
    assert [t["to_state"] for t in change["timeline"]] == [
        "draft",
        "submitted",
        "approved",
        "scheduled",
        "implementing",
        "completed",
        "review",
        "closed",
    ]


async def test_cancel_before_implementing_only(settings, svc, http):
    draft = await create(http, svc)
    assert (await ok(http, svc, draft, "cancel", json={"comment": "not needed"}))["state"] == "cancelled"
    change = await scheduled(http, svc, **window(SAT + 5 * H))
    change = await ok(http, svc, change, "cancel", "eng-token")
    assert change["state"] == "cancelled" and change["allowed_actions"] == []
    status, body = await act(http, svc, change, "start", "eng-token")
    assert status == 409 and body["error"]["code"] == "illegal_transition"


async def test_client_approval_is_required_for_the_clients_cis(svc, http):
    change = await in_vote(http, svc, tenant="globex", ci="crm")
    change = await ok(http, svc, change, "approve", "bob-token")
    assert change["state"] == "assessment" and change["awaiting"] == {"cab_approvals": 0, "client_approval": True}
    status, body = await act(http, svc, change, "approve", "globex-viewer-token")  # viewers only read
    assert status == 403 and body["error"]["code"] == "forbidden"
    acme = await in_vote(http, svc)
    status, _ = await act(http, svc, acme, "approve", "globex-approver-token")  # another tenant's change
    assert status == 404
    change = await ok(http, svc, change, "approve", "globex-approver-token", json={"comment": "ok for us"})
    assert change["state"] == "approved"
    assert [(v["voter"], v["vote"]) for v in change["votes"]] == [("bob", "approve"), ("globex-approver", "approve")]


async def test_high_risk_network_change_needs_the_boards_rule_quorum(svc, http):
    change = await create(http, svc, "eng-token", ci="core-router")
    assert change["quorum"] == 2
    change = await in_vote(http, svc, "eng-token", risk="high", ci="core-router")
    assert change["quorum"] == 3
    for voter in ("alice-token", "bob-token"):
        change = await ok(http, svc, change, "approve", voter)
    assert change["state"] == "assessment" and change["awaiting"]["cab_approvals"] == 1
    change = await ok(http, svc, change, "approve", "carol-token")
    assert change["state"] == "approved"


async def test_a_standard_change_longer_than_its_template_allows_is_refused_at_once(svc, http):
    wifi = {"tenant": "acme", "change_type": "standard", "template": "wifi-firmware"} | window(SAT, hours=5)
    status, body = await call(http, "POST", f"{svc.url}/v1/changes", "eng-token", json=wifi)
    assert (status, body["error"]["details"][0]["field"]) == (422, "planned_end")
    assert "at most 120 min; this window is 300 min" in body["error"]["details"][0]["message"]
    status, body = await call(http, "GET", f"{svc.url}/v1/changes", "eng-token", params={"tenant": "acme"})
    assert body["items"] == []  # nothing was created


async def test_starting_long_before_the_approved_window_needs_a_recorded_reason(settings, svc, http):
    change = await scheduled(http, svc, **window(SAT))  # approved for a Saturday in 2030
    status, body = await act(http, svc, change, "start", "eng-token")
    assert (status, body["error"]["code"]) == (409, "outside_window")
    assert body["error"]["details"][0]["earliest_start"] == (SAT - H).isoformat()
    unchanged = await get(http, svc, change["number"])
    assert (unchanged["state"], unchanged["overrides"], len(unchanged["timeline"])) == (
        "scheduled", [], len(change["timeline"]),
    )  # fmt: skip
    reason = "router failing now; Acme agreed by phone"
    change = await ok(http, svc, change, "start", "eng-token", json={"override_reason": reason})
    assert change["state"] == "implementing"
    [taken] = change["overrides"]
    assert (taken["kind"], taken["reason"], taken["by"]) == ("outside_window", reason, "eve")  # eng-token is eve
    assert change["timeline"][-1]["comment"] == f"overrode outside_window: {reason}"
    [started] = await stream_envelopes(settings, "change.implementing")
    assert started.data["comment"] == f"overrode outside_window: {reason}"
