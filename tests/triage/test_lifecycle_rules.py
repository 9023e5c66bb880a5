"""The incident API's standing rules on the running service: resolved incidents close themselves, escalating
past an assignee's tier unassigns them, and each caller is offered only what they may do now."""

from __future__ import annotations

import pytest

from libs.bus import connect_bus
from libs.contracts import EscalationRequested
from libs.events import raise_event, utcnow
from tests.conftest import eventually
from tests.triage.stack import act, create, detail, events, incidents


@pytest.fixture
async def triage(tsettings, start):
    return await start("triage", tsettings)


async def test_resolved_incidents_close_themselves_after_close_after(triage, http, tsettings):
    kept = await create(http, triage, tenant="acme")  # acme: the 7-day default
    umb = await create(http, triage, tenant="umbrella")  # umbrella: close_after 1s
    for incident in (kept, umb):
        assert (await act(http, triage, incident["number"], "resolve"))[0] == 200

    async def closed():
        return (await detail(http, triage, umb["number"]))["state"] == "closed"

    await eventually(closed)
    d = await detail(http, triage, umb["number"])
    assert d["timeline"][-1]["kind"] == "closed" and d["timeline"][-1]["actor"] == "triage:auto-close"
    assert (await detail(http, triage, kept["number"]))["state"] == "resolved"
    closes = [e.data for e in await events(tsettings) if e.short_type == "incident.closed"]
    assert [(c["number"], c["by"]) for c in closes] == [(umb["number"], "triage:auto-close")]
    assert (await act(http, triage, umb["number"], "reopen", {"reason": "x"}))[0] == 409  # closed is final


async def test_escalating_above_the_assignees_tier_unassigns_them(triage, http, tsettings):
    """By hand or at escalation's request: the escalation and `assign` agree on who may work the incident."""
    n = (await create(http, triage))["number"]
    assert (await act(http, triage, n, "assign", {"assignee": "ann"}))[0] == 200  # ann works Tier 1
    status, body = await act(http, triage, n, "escalate", {"reason": "needs the DBAs"})
    assert (status, body["tier"], body["assignee"]) == (200, 2, None)
    d = await detail(http, triage, n)
    assert [(t["kind"], t["actor"]) for t in d["timeline"][-2:]] == [("escalated", "eve"), ("unassigned", "eve")]
    assert d["timeline"][-1]["detail"] == {"previous": "ann", "reason": "escalated to Tier 2; ann works Tier 1"}
    assigned = [e.data for e in await events(tsettings) if e.short_type == "incident.assigned"]
    assert [(a["assignee"], a["previous"], a["by"]) for a in assigned] == [("ann", None, "eve"), (None, "ann", "eve")]
    assert (await act(http, triage, n, "assign", {"assignee": "ann"}))[1]["error"]["code"] == "tier_too_low"
    # Someone whose tier covers the new one stays, and so does staff without a tier (a manager).
    for assignee in ("tom", "meg"):
        m = (await create(http, triage))["number"]
        await act(http, triage, m, "assign", {"assignee": assignee})
        assert (await act(http, triage, m, "escalate", {"reason": "x"}))[1]["assignee"] == assignee

    # Escalation's own request (a step ran out) does the same, with escalation as the actor.
    k = await create(http, triage)
    await act(http, triage, k["number"], "assign", {"assignee": "ann"})
    bus = await connect_bus(tsettings, name="escalation-probe")
    try:
        req = EscalationRequested(incident_id=k["id"], number=k["number"], from_tier=1, to_tier=2,
                                  reason="step 1 ran out unacknowledged", at=utcnow())  # fmt: skip
        await bus.publish(raise_event("escalation.requested", req, source="escalation", tenant="acme"))
    finally:
        await bus.close()

    async def escalated():
        got = await detail(http, triage, k["number"])
        return got if got["tier"] == 2 else None

    got = await eventually(escalated)
    assert got["assignee"] is None and [(t["kind"], t["actor"]) for t in got["timeline"][-2:]] == [
        ("escalated", "escalation"), ("unassigned", "escalation"),
    ]  # fmt: skip


async def test_allowed_actions_are_what_this_caller_may_do_now(triage, http):
    n = (await create(http, triage))["number"]

    async def allowed(token: str) -> list[str]:
        one = (await detail(http, triage, n, token))["allowed_actions"]
        listed = [i for i in await incidents(http, triage, token) if i["number"] == n]
        assert [i["allowed_actions"] for i in listed] == [one]  # the list says the same as the detail
        return one

    work = ["acknowledge", "assign", "escalate", "notes", "priority", "resolve", "start"]
    assert await allowed("eng-token") == await allowed("agent1-token") == await allowed("manager-token") == work
    assert await allowed("acme-viewer-token") == []  # a client's token reads only
    for _ in range(2):
        await act(http, triage, n, "escalate", {"reason": "up"})
    assert "escalate" not in await allowed("eng-token")  # Tier 3 is the top
    await act(http, triage, n, "resolve")
    assert await allowed("eng-token") == ["close", "notes", "reopen"]  # no work on a resolved incident
    await act(http, triage, n, "close")
    assert await allowed("admin-token") == ["notes"]
