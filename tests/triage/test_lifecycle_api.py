"""The incident API on the running service: every legal and illegal transition, and every other action,
each on the timeline with who and when and raised as an event; bad input changes nothing."""

from __future__ import annotations

import itertools

import aiohttp
import pytest

from libs.bus import connect_bus
from libs.contracts import SlaBreached
from libs.events import raise_event, utcnow
from tests.conftest import eventually
from tests.triage.stack import act, call, create, detail, events, incidents
from tests.triage.test_domain import ACTIONS, LEGAL

BODIES = {"hold": {"reason": "pending_vendor"}, "reopen": {"reason": "still broken"}, "resolve": None}
# How to reach each state from a new incident.
PATHS = {
    "new": [],
    "acknowledged": ["acknowledge"],
    "in_progress": ["start"],
    "on_hold": ["acknowledge", "hold"],
    "resolved": ["acknowledge", "resolve"],
    "closed": ["acknowledge", "resolve", "close"],
}


@pytest.fixture
async def triage(tsettings, start):
    return await start("triage", tsettings)


async def test_every_transition_over_http(triage, http):
    for state, action in itertools.product(PATHS, ACTIONS):
        number = (await create(http, triage))["number"]
        for step in PATHS[state]:
            assert (await act(http, triage, number, step, BODIES.get(step)))[0] == 200, (state, step)
        status, body = await act(http, triage, number, action, BODIES.get(action))
        if (state, action) in LEGAL:
            assert status == 200, (state, action, body)
            assert body["state"] == LEGAL[(state, action)]
        else:
            allowed = sorted(a for (s, a) in LEGAL if s == state)
            assert status == 409, (state, action, body)
            assert body["error"]["code"] == "illegal_transition"
            assert body["error"]["details"] == [{"allowed": allowed}]
            assert (await detail(http, triage, number))["state"] == state  # nothing changed


async def test_a_full_incident_life_on_the_timeline_and_the_bus(triage, http, tsettings):
    created = await create(http, triage, type="request", title="New laptop for Jo", channel="email",
                           ci="office-wifi", urgency="low", description="by Friday")  # fmt: skip
    n = created["number"]
    assert (created["type"], created["state"], created["priority"], created["channel"]) == ("request", "new", "P5",
                                                                                          "email")  # fmt: skip
    assert (created["queue"], created["routing_rule"]) == ("network", "wifi-to-network")
    steps = [
        ("start", None, "in_progress"),
        ("assign", {"assignee": "ann"}, "in_progress"),
        ("hold", {"reason": "pending_customer", "comment": "waiting for Jo"}, "on_hold"),
        ("resume", None, "in_progress"),
        ("escalate", {"reason": "needs network team"}, "in_progress"),
        ("assign", {"assignee": "tom"}, "in_progress"),
        ("priority", {"priority": "P3", "reason": "CEO's laptop"}, "in_progress"),
        ("notes", {"text": "ordered from vendor"}, "in_progress"),
        ("notes", {"text": "Your laptop ships Thursday", "internal": False}, "in_progress"),
        ("resolve", {"resolution_code": "solved", "first_contact": False}, "resolved"),
        ("reopen", {"reason": "wrong model"}, "in_progress"),
        ("resolve", {"resolution_code": "solved", "first_contact": False}, "resolved"),
        ("close", None, "closed"),
    ]
    for action, body, state in steps:
        status, got = await act(http, triage, n, action, body, token="manager-token")
        assert (status, got.get("state")) == (200, state), (action, got)
    d = await detail(http, triage, n)
    assert (d["tier"], d["queue"], d["assignee"], d["priority"], d["reopen_count"]) == (2, "tier-2", "tom", "P3", 1)
    assert (d["resolution_code"], d["first_contact"], d["closed_at"] is not None) == ("solved", False, True)
    kinds = [t["kind"] for t in d["timeline"]]
    # Escalated to Tier 2, ann (Tier 1) is unassigned: assign would refuse her there too.
    assert kinds == ["opened", "acknowledged", "in_progress", "assigned", "held", "resumed", "escalated", "unassigned",
                     "assigned", "priority_changed", "note", "note", "resolved", "reopened", "resolved",
                     "closed"]  # fmt: skip
    assert {t["actor"] for t in d["timeline"]} == {"meg", "eve"} and all(t["at"] for t in d["timeline"])
    assert d["timeline"][9]["detail"] == {"from": "P5", "to": "P3", "reason": "CEO's laptop"}
    raised = [(e.short_type.removeprefix("incident."), e.data.get("by")) for e in await events(tsettings)]
    assert raised[0] == ("opened", None) and {by for _, by in raised[1:]} == {"meg"}
    assert [k for k, _ in raised[1:]] == ["acknowledged", "in_progress", "assigned", "held", "resumed", "escalated",
                                          "assigned", "assigned", "priority_changed", "note_added", "note_added",
                                          "resolved", "reopened", "resolved", "closed"]  # fmt: skip
    # The client sees the comment meant for it, not the provider's work note.
    client = await detail(http, triage, n, token="acme-viewer-token")
    assert [t["detail"]["text"] for t in client["timeline"] if t["kind"] == "note"] == ["Your laptop ships Thursday"]


async def test_escalate_stops_at_tier_3_and_closed_incidents_take_no_work(triage, http):
    n = (await create(http, triage))["number"]
    for tier in (2, 3):
        status, body = await act(http, triage, n, "escalate", {"reason": "stuck"})
        assert (status, body["tier"], body["queue"]) == (200, tier, f"tier-{tier}")
    status, body = await act(http, triage, n, "escalate", {"reason": "stuck"})
    assert (status, body["error"]["code"]) == (409, "top_tier")
    for step in ("acknowledge", "resolve", "close"):
        await act(http, triage, n, step)
    for action, body in [("assign", {"assignee": "eve"}), ("escalate", {"reason": "x"}),
                         ("priority", {"priority": "P1", "reason": "x"})]:  # fmt: skip
        status, got = await act(http, triage, n, action, body)
        assert (status, got["error"]["code"]) == (409, "incident_not_open")
    assert (await act(http, triage, n, "notes", {"text": "post-mortem link"}))[0] == 200  # notes are always welcome


async def test_bad_input_is_refused_and_changes_nothing(triage, http):
    n = (await create(http, triage, ci="erp-db", severity="critical"))["number"]
    assert (await detail(http, triage, n))["priority"] == "P1"
    await act(http, triage, n, "acknowledge")
    before = await detail(http, triage, n)
    cases = [
        ("hold", {"reason": "lunch"}, 422, "validation_failed"),
        ("hold", {}, 422, "validation_failed"),
        ("resolve", {"resolution_code": "magic"}, 422, "validation_failed"),
        ("resolve", {"resolution_code": "solved", "extra": 1}, 422, "validation_failed"),
        ("priority", {"priority": "P9", "reason": "x"}, 422, "validation_failed"),
        ("priority", {"priority": "P2"}, 422, "validation_failed"),  # a reason is required
        ("priority", {"priority": "P1", "reason": "same"}, 409, "unchanged"),
        ("assign", {"assignee": "nobody"}, 422, "unknown_assignee"),
        ("assign", {"assignee": "acme-viewer"}, 422, "unknown_assignee"),  # a client is not staff
        ("notes", {"text": ""}, 422, "validation_failed"),
        ("escalate", {}, 422, "validation_failed"),
        ("acknowledge", [1, 2], 422, "validation_failed"),
    ]
    for action, body, status, code in cases:
        got_status, got = await act(http, triage, n, action, body)
        assert (got_status, got["error"]["code"]) == (status, code), (action, body, got)
    # Basic auth (a browser's cached credentials) is for reads only: a write with it is refused, unchanged.
    basic = aiohttp.encode_basic_auth("eng", "eng-token")
    async with http.post(
        f"{triage.url}/v1/incidents/{n}/resolve",
        json={"resolution_code": "solved"},
        headers={"Authorization": basic},
    ) as r:
        assert (r.status, r.headers["WWW-Authenticate"]) == (401, 'Bearer realm="Tierline"')
    async with http.get(f"{triage.url}/v1/incidents/{n}", headers={"Authorization": basic}) as r:
        assert r.status == 200 and (await r.json())["state"] == "acknowledged"
    async with http.post(f"{triage.url}/v1/incidents/{n}/hold", data=b"{nope",
                         headers={"Authorization": "Bearer eng-token"}) as r:  # fmt: skip
        assert (r.status, (await r.json())["error"]["code"]) == (400, "malformed_json")
    # An agent at Tier 1 cannot take a Tier 2 incident; one at Tier 3 can.
    await act(http, triage, n, "escalate", {"reason": "db team"})
    assert (await act(http, triage, n, "assign", {"assignee": "ann"}))[1]["error"]["code"] == "tier_too_low"
    assert (await act(http, triage, n, "assign", {"assignee": "tom"}))[0] == 200
    after = await detail(http, triage, n)
    assert [t["kind"] for t in after["timeline"]] == [t["kind"] for t in before["timeline"]] + ["escalated", "assigned"]
    for body, field in [({"tenant": "acme"}, "title"), ({"tenant": "acme", "title": "x", "ci": "nope"}, "ci"),
                        ({"tenant": "acme", "title": "x", "type": "problem"}, "type")]:  # fmt: skip
        status, got = await call(http, "POST", f"{triage.url}/v1/incidents", "eng-token", body)
        assert status == 422 and got["error"]["details"][0]["field"] == field
    status, got = await call(http, "POST", f"{triage.url}/v1/incidents", "eng-token", {"tenant": "nope", "title": "x"})
    assert (status, got["error"]["code"]) == (404, "not_found")
    assert len(await incidents(http, triage)) == 1


async def test_roles(triage, http):
    n = (await create(http, triage, token="agent1-token"))["number"]  # agent (new name) and engineer (old) act
    assert (await act(http, triage, n, "acknowledge", token="agent1-token"))[0] == 200
    for token in ("acme-viewer-token", "globex-viewer-token"):  # clients read only
        status, body = await act(http, triage, n, "notes", {"text": "hi"}, token=token)
        assert (status, body["error"]["code"]) == (403, "forbidden")
        # The roles that may, named as the config names them (the same vocabulary as the change API's).
        assert body["error"]["details"] == [{"allowed_roles": ["admin", "agent", "engineer", "manager",
                                                               "provider_admin"]}]  # fmt: skip
    status, body = await call(http, "POST", f"{triage.url}/v1/incidents", "acme-viewer-token",
                              {"tenant": "acme", "title": "x"})  # fmt: skip
    assert status == 403
    async with http.post(f"{triage.url}/v1/incidents/{n}/start") as r:
        assert r.status == 401


async def test_list_filters(triage, http, tsettings):
    a = (await create(http, triage, ci="erp-db", severity="critical"))["number"]
    b = (await create(http, triage, type="request", ci="firewall", severity="critical"))["number"]
    await act(http, triage, a, "assign", {"assignee": "eve"})
    await act(http, triage, b, "hold", {"reason": "pending_vendor"})  # new cannot go on hold
    await act(http, triage, b, "start")
    await act(http, triage, b, "hold", {"reason": "pending_vendor"})

    async def numbers(**q):
        return [i["number"] for i in await incidents(http, triage, **q)]

    assert await numbers(assignee="eve") == [a]
    assert await numbers(assignee="none") == [b]
    assert await numbers(state="on_hold") == [b]
    assert await numbers(type="request", category="security", tier="2") == [b]
    assert await numbers(priority="P1") == [b, a]
    assert await numbers(breached="true") == [] and await numbers(at_risk="false") == [b, a]
    c = (await create(http, triage))["number"]
    await act(http, triage, c, "resolve")
    assert await numbers(state="open") == [b, a] and await numbers() == [c, b, a]  # a queue: every open state
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", breached="maybe", category="fun")
    assert status == 400 and {d["field"] for d in body["error"]["details"]} == {"breached", "category"}


async def test_sla_warning_and_breach_from_escalation_feed_the_filters(triage, http, tsettings):
    a = await create(http, triage)
    b = await create(http, triage)
    now = utcnow()
    bus = await connect_bus(tsettings, name="escalation-probe")
    try:
        ref = {"incident_id": a["id"], "number": a["number"]}
        breach = SlaBreached(**ref, clock="response", priority="P3", due_at=now, breached_at=now, late=False, tier=1)
        await bus.publish(raise_event("sla.breached", breach, source="escalation", tenant="acme"))
        warning = {"incident_id": b["id"], "number": b["number"], "clock": "resolution", "at": now.isoformat()}
        await bus.publish(raise_event("sla.warning", _Raw(warning), source="escalation", tenant="acme"))
    finally:
        await bus.close()

    async def flagged():
        return [i["number"] for i in await incidents(http, triage, breached="true")] == [a["number"]] and [
            i["number"] for i in await incidents(http, triage, at_risk="true")
        ] == [b["number"]]

    await eventually(flagged)


class _Raw:
    """A payload for an event type this branch has no contract for (escalation's sla.warning)."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def model_dump(self, mode: str = "json") -> dict:
        return self.data
