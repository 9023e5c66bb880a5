"""The change API against the running service (real NATS JetStream, real PostgreSQL)."""

from __future__ import annotations

from typing import Any

import nats
import pytest

from libs.events import Envelope
from tests.conftest import auth, eventually

ERP = {"tenant": "acme", "change_type": "normal", "ci": "erp-db", "title": "Patch ERP database"}


@pytest.fixture
async def svc(settings, start):
    return await start("change", settings)


async def call(http, method: str, url: str, token: str | None = "alice-token", **kw: Any) -> tuple[int, Any]:
    headers = (auth(token) if token else {}) | kw.pop("headers", {})
    async with http.request(method, url, headers=headers, **kw) as r:
        return r.status, await r.json()


async def create(http, svc, token: str = "alice-token", **fields: Any) -> dict[str, Any]:
    status, body = await call(http, "POST", f"{svc.url}/v1/changes", token, json=ERP | fields)
    assert status == 201, body
    return body


async def act(http, svc, change: dict[str, Any], action: str, token: str, **kw: Any) -> tuple[int, Any]:
    return await call(http, "POST", f"{svc.url}/v1/changes/{change['id']}/{action}", token, **kw)


async def submitted(http, svc, token: str = "alice-token", **fields: Any) -> dict[str, Any]:
    change = await create(http, svc, token, **fields)
    status, body = await act(http, svc, change, "submit", token)
    assert status == 200, body
    return body


async def change_events(settings, count: int) -> list[Envelope]:
    """The change.* events in this test's stream, read by an ephemeral pull consumer."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        stream = f"{settings.bus_prefix.upper()}_EVENTS"  # see libs/bus.py
        sub = await js.pull_subscribe(f"{settings.bus_prefix}.change.>", stream=stream)
        got: list[Envelope] = []

        async def fetched() -> bool:
            try:
                got.extend(Envelope.decode(m.data) for m in await sub.fetch(count - len(got), timeout=0.5))
            except nats.errors.TimeoutError:
                pass
            return len(got) >= count

        await eventually(fetched)
        with pytest.raises(nats.errors.TimeoutError):  # and nothing more than expected
            await sub.fetch(1, timeout=0.3)
        return got
    finally:
        await nc.close()


async def test_normal_change_approved_by_quorum_and_every_event_reaches_jetstream(settings, svc, http):
    change = await create(http, svc, description="apply Q1 patches")
    assert change["state"] == "draft" and change["number"] == "ACME-CHG-1" and change["quorum"] == 2
    assert change["requested_by"] == "alice" and change["timeline"][0]["to_state"] == "draft"
    assert (await act(http, svc, change, "submit", "alice-token"))[1]["state"] == "submitted"
    status, body = await act(http, svc, change, "approve", "bob-token")
    assert status == 200 and body["state"] == "submitted" and body["approvals"] == 1
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
        ("submitted", "approved", "carol"),
    ]

    events = await change_events(settings, 5)
    assert [e.short_type for e in events] == [
        "change.created",
        "change.submitted",
        "change.vote_cast",
        "change.vote_cast",
        "change.approved",
    ]
    assert {(e.tenant, e.subject, e.source) for e in events} == {("acme", change["id"], "tierline/change")}
    assert [e.data["by"] for e in events] == ["alice", "alice", "bob", "carol", "carol"]
    last = events[-1].data
    assert (last["from_state"], last["state"]) == ("submitted", "approved")
    assert (last["approvals"], last["quorum"]) == (2, 2)
    assert last["comment"] == "window agreed" and last["number"] == "ACME-CHG-1"


async def test_one_rejection_rejects(settings, svc, http):
    change = await submitted(http, svc, "eng-token")
    assert (await act(http, svc, change, "approve", "bob-token"))[0] == 200
    status, body = await act(http, svc, change, "reject", "carol-token", json={"comment": "no rollback plan"})
    assert status == 200 and body["state"] == "rejected"
    last = body["timeline"][-1]
    assert (last["from_state"], last["to_state"], last["actor"]) == ("submitted", "rejected", "carol")
    assert last["comment"] == "no rollback plan"
    events = await change_events(settings, 5)
    assert events[-1].short_type == "change.rejected" and events[-1].data["by"] == "carol"


async def test_requester_cannot_approve_own_change(svc, http):
    change = await submitted(http, svc, "alice-token")  # alice is on acme's CAB, but it is her change
    status, body = await act(http, svc, change, "approve", "alice-token")
    assert status == 403 and body["error"]["code"] == "own_change"
    status, body = await call(http, "GET", f"{svc.url}/v1/changes/{change['id']}")
    assert body["state"] == "submitted" and body["votes"] == []


async def test_each_member_votes_once(svc, http):
    change = await submitted(http, svc, "eng-token")
    assert (await act(http, svc, change, "approve", "bob-token"))[0] == 200
    for action in ("approve", "reject"):
        status, body = await act(http, svc, change, action, "bob-token")
        assert status == 409 and body["error"]["code"] == "already_voted"
    status, body = await call(http, "GET", f"{svc.url}/v1/changes/{change['id']}")
    assert body["state"] == "submitted" and len(body["votes"]) == 1


async def test_emergency_needs_one_vote_and_later_votes_are_refused(settings, svc, http):
    change = await submitted(http, svc, change_type="emergency")
    assert change["quorum"] == 1
    status, body = await act(http, svc, change, "approve", "bob-token")
    assert status == 200 and body["state"] == "approved"
    status, body = await act(http, svc, change, "reject", "carol-token")
    assert status == 409 and body["error"] == {
        "code": "illegal_transition",
        "message": "cannot reject a change that is approved",
        "details": [{"allowed": []}],
    }
    assert len(await change_events(settings, 4)) == 4  # the refused vote raised nothing


async def test_votes_on_a_draft_and_from_outside_the_cab_are_refused(svc, http):
    change = await create(http, svc)
    status, body = await act(http, svc, change, "approve", "bob-token")
    assert status == 409 and body["error"]["details"] == [{"allowed": ["submit"]}]
    await act(http, svc, change, "submit", "alice-token")
    status, body = await act(http, svc, change, "approve", "eng-token")  # eve is an engineer, not on the CAB
    assert status == 403 and body["error"]["code"] == "not_cab_member"
    status, body = await act(http, svc, change, "approve", "acme-viewer-token")  # client viewers only read
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await act(http, svc, change, "submit", "bob-token")  # CAB members vote, they do not submit
    assert status == 403 and body["error"]["code"] == "forbidden"


async def test_standard_change_is_approved_on_submit(settings, svc, http):
    change = await submitted(http, svc, "eng-token", change_type="standard", ci="office-wifi")
    assert change["state"] == "approved" and change["votes"] == [] and change["quorum"] == 0
    assert [t["to_state"] for t in change["timeline"]] == ["draft", "submitted", "approved"]
    events = await change_events(settings, 3)
    assert [e.short_type for e in events] == ["change.created", "change.submitted", "change.approved"]


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
