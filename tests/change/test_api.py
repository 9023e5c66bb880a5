"""The change API against the running service (real NATS JetStream, real PostgreSQL): create, read, vote."""

from __future__ import annotations

import pytest

from tests.change.client import ERP, act, call, change_events, create, in_vote, ok, submitted


@pytest.fixture
async def svc(settings, start):
    return await start("change", settings)


async def test_normal_change_approved_by_quorum_and_every_event_reaches_jetstream(settings, svc, http):
    change = await create(http, svc, description="apply Q1 patches")
    assert change["state"] == "draft" and change["number"] == "ACME-CHG-1" and change["quorum"] == 2
    assert change["requested_by"] == "alice" and change["timeline"][0]["to_state"] == "draft"
    assert (await act(http, svc, change, "submit", "alice-token"))[1]["state"] == "submitted"
    status, body = await act(http, svc, change, "approve", "bob-token")  # not assessed yet
    assert status == 409 and body["error"]["details"] == [{"allowed": ["assess", "cancel"]}]
    assess = {"risk": "medium", "impact": "high", "comment": "CAB next Tuesday"}
    body = await ok(http, svc, change, "assess", json=assess)
    assert (body["state"], body["risk"], body["impact"]) == ("assessment", "medium", "high")
    assert body["awaiting"] == {"cab_approvals": 2, "client_approval": False}
    status, body = await act(http, svc, change, "approve", "bob-token")
    assert status == 200 and body["state"] == "assessment" and body["approvals"] == 1
    status, body = await act(http, svc, change, "approve", "carol-token", json={"comment": "window agreed"})
    assert status == 200 and body["state"] == "approved" and body["approvals"] == 2

    status, got = await call(http, "GET", f"{svc.url}/v1/changes/acme-chg-1", "admin-token")
    assert status == 200 and got["id"] == change["id"]
    assert [(v["voter"], v["vote"], v["comment"]) for v in got["votes"]] == [
        ("bob", "approve", None),
        ("carol", "approve", "window agreed"),
    ]
    assert [(t["from_state"], t["to_state"], t["actor"]) for t in got["timeline"]] == [
        (None, "draft", "alice"),
        ("draft", "submitted", "alice"),
        ("submitted", "assessment", "alice"),
        ("assessment", "approved", "carol"),
    ]
    assert got["timeline"][2]["comment"] == "risk medium, impact high: CAB next Tuesday"

    events = await change_events(settings, 6)
    assert [e.short_type for e in events] == [
        "change.created",
        "change.submitted",
        "change.assessment",
        "change.vote_cast",
        "change.vote_cast",
        "change.approved",
    ]
    assert {(e.tenant, e.subject, e.source) for e in events} == {("acme", change["id"], "tierline/change")}
    assert [e.data["by"] for e in events] == ["alice", "alice", "alice", "bob", "carol", "carol"]
    last = events[-1].data
    assert (last["from_state"], last["state"], last["risk"], last["cis"]) == (
        "assessment",
        "approved",
        "medium",
        ["erp-db"],
    )
    assert (last["approvals"], last["quorum"]) == (2, 2)
    assert last["comment"] == "window agreed" and last["number"] == "ACME-CHG-1"


async def test_one_rejection_rejects(settings, svc, http):
    change = await in_vote(http, svc, "eng-token")
    assert (await act(http, svc, change, "approve", "bob-token"))[0] == 200
    status, body = await act(http, svc, change, "reject", "carol-token", json={"comment": "no rollback plan"})
    assert status == 200 and body["state"] == "rejected"
    last = body["timeline"][-1]
    assert (last["from_state"], last["to_state"], last["actor"]) == ("assessment", "rejected", "carol")
    assert last["comment"] == "no rollback plan"
    assert body["allowed_actions"] == []
    events = await change_events(settings, 6)
    assert events[-1].short_type == "change.rejected" and events[-1].data["by"] == "carol"


async def test_requester_cannot_approve_own_change(svc, http):
    change = await in_vote(http, svc, "alice-token")  # alice is on acme's CAB, but it is her change
    status, body = await act(http, svc, change, "approve", "alice-token")
    assert status == 403 and body["error"]["code"] == "own_change"
    status, body = await call(http, "GET", f"{svc.url}/v1/changes/{change['id']}")
    assert body["state"] == "assessment" and body["votes"] == []


async def test_each_member_votes_once(svc, http):
    change = await in_vote(http, svc, "eng-token")
    assert (await act(http, svc, change, "approve", "bob-token"))[0] == 200
    for action in ("approve", "reject"):
        status, body = await act(http, svc, change, action, "bob-token")
        assert status == 409 and body["error"]["code"] == "already_voted"
    status, body = await call(http, "GET", f"{svc.url}/v1/changes/{change['id']}")
    assert body["state"] == "assessment" and len(body["votes"]) == 1


async def test_emergency_needs_one_vote_and_later_votes_are_refused(settings, svc, http):
    change = await submitted(http, svc, change_type="emergency")
    assert change["quorum"] == 1
    status, body = await act(http, svc, change, "approve", "bob-token")
    assert status == 200 and body["state"] == "approved"
    status, body = await act(http, svc, change, "reject", "carol-token")
    assert status == 409 and body["error"] == {
        "code": "illegal_transition",
        "message": "cannot reject an emergency change that is approved",
        "details": [{"allowed": ["cancel", "schedule"]}],
    }
    assert len(await change_events(settings, 4)) == 4  # the refused vote raised nothing


async def test_votes_on_a_draft_and_from_outside_the_cab_are_refused(svc, http):
    change = await create(http, svc)
    status, body = await act(http, svc, change, "approve", "bob-token")
    assert status == 409 and body["error"]["details"] == [{"allowed": ["cancel", "submit"]}]
    await act(http, svc, change, "submit", "alice-token")
    await ok(http, svc, change, "assess", json={"risk": "low", "impact": "low"})
    status, body = await act(http, svc, change, "approve", "eng-token")  # eve is an engineer, not on the CAB
    assert status == 403 and body["error"]["code"] == "not_cab_member"
    status, body = await act(http, svc, change, "approve", "acme-viewer-token")  # client viewers only read
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await act(http, svc, change, "submit", "bob-token")  # CAB members vote, they do not submit
    assert status == 403 and body["error"]["code"] == "forbidden"
    requesters = ["admin", "agent", "change_manager", "engineer", "manager", "provider_admin"]
    assert body["error"]["details"] == [{"allowed_roles": requesters}]  # as the config names roles


async def test_bad_input_is_refused_and_creates_nothing(settings, svc, http):
    url = f"{svc.url}/v1/changes"
    status, body = await call(http, "POST", url, json=ERP | {"ci": "crm"})  # globex's CI, not acme's
    assert status == 422 and body["error"]["code"] == "validation_failed"
    assert body["error"]["details"][0]["field"] == "ci"
    status, body = await call(http, "POST", url, json=ERP | {"tenant": "initech"})
    assert status == 422 and body["error"]["details"][0]["field"] == "tenant"
    status, body = await call(http, "POST", url, json=ERP | {"change_type": "urgent", "colour": "red"})
    assert status == 422 and {d["field"] for d in body["error"]["details"]} == {"change_type", "colour"}
    json_type = {"Content-Type": "application/json"}
    status, body = await call(http, "POST", url, data=b'{"tenant": "acme",', headers=json_type)
    assert status == 400 and body["error"]["code"] == "malformed_json"
    assert (await call(http, "POST", url, None, json=ERP))[0] == 401
    assert (await call(http, "POST", url, "acme-viewer-token", json=ERP))[1]["error"]["code"] == "forbidden"
    assert (await call(http, "GET", url))[1]["items"] == []
    # The refused requests used no number: the first real change is still number 1.
    assert (await create(http, svc))["number"] == "ACME-CHG-1"
    assert len(await change_events(settings, 1)) == 1


async def test_tenants_are_walls(svc, http):
    acme = await create(http, svc, "admin-token")
    globex = await create(http, svc, "admin-token", tenant="globex", ci="crm")
    assert globex["number"] == "GLOBEX-CHG-1"
    for ref in (acme["id"], acme["number"]):
        status, body = await call(http, "GET", f"{svc.url}/v1/changes/{ref}", "globex-viewer-token")
        assert status == 404 and body["error"]["code"] == "not_found"
    assert (await call(http, "GET", f"{svc.url}/v1/changes/{acme['id']}", "acme-viewer-token"))[0] == 200
    status, body = await call(http, "GET", f"{svc.url}/v1/changes", "globex-viewer-token")
    assert [c["id"] for c in body["items"]] == [globex["id"]]
    url = f"{svc.url}/v1/changes"
    assert (await call(http, "GET", url, "globex-viewer-token", params={"tenant": "acme"}))[0] == 404
    status, body = await call(http, "GET", url, "admin-token")
    assert [c["id"] for c in body["items"]] == [globex["id"], acme["id"]]  # newest first
    status, body = await call(http, "GET", url, params={"tenant": "acme", "state": "draft"})
    assert [c["id"] for c in body["items"]] == [acme["id"]]


async def test_list_query_is_validated(svc, http):
    params = {"state": "done", "limit": "0", "tennant": "acme"}
    status, body = await call(http, "GET", f"{svc.url}/v1/changes", params=params)
    assert status == 400 and body["error"]["code"] == "invalid_query"
    assert {d["field"] for d in body["error"]["details"]} == {"tennant", "state", "limit"}
    status, body = await call(http, "GET", f"{svc.url}/v1/changes", params={"tenant": "initech"})
    assert status == 400 and [d["field"] for d in body["error"]["details"]] == ["tenant"]


async def test_bad_action_bodies_are_refused_and_change_nothing(settings, svc, http):
    change = await submitted(http, svc, "eng-token")
    for body, fields in [
        ({"risk": "extreme", "impact": "high"}, {"risk"}),
        ({"impact": "high", "colour": "red"}, {"risk", "colour"}),
        (None, {"risk", "impact"}),  # no body at all: what is required is listed
    ]:
        status, refused = await act(http, svc, change, "assess", json=body)
        assert status == 422 and {d["field"] for d in refused["error"]["details"]} == fields, refused
    status, refused = await act(http, svc, change, "assess", data=b"{", headers={"Content-Type": "application/json"})
    assert status == 400 and refused["error"]["code"] == "malformed_json"
    status, refused = await act(http, svc, change, "assess", "acme-viewer-token", json={"risk": "low", "impact": "low"})
    assert status == 403
    status, body = await call(http, "GET", f"{svc.url}/v1/changes/{change['id']}")
    assert body["state"] == "submitted" and body["risk"] is None
    assert len(await change_events(settings, 2)) == 2  # created and submitted, nothing since
