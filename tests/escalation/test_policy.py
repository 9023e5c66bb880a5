"""Escalation policies against the running service: steps page their targets and escalate when their delay
runs out unacknowledged, the policy repeats, acknowledgement stops it, a manual escalation moves it, and a
category can have its own policy."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import auth, eventually
from tests.escalation.support import SECRET, Bus, Receiver, stream_events, write_config

SLA = {p: {"respond": "4h", "resolve": "2d"} for p in ("P1", "P2", "P3", "P4", "P5")}
STEP_TYPES = {"escalation.step_started", "escalation.requested"}


async def start_with(settings, start, tmp_path, escalation):
    receiver = await Receiver().start()
    targets = [{"name": "ticketing", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET,
                "triggers": ["escalated"]}]  # fmt: skip
    acme = {"contract": {"sla": SLA}, "escalation": escalation, "notifications": {"targets": targets}}
    settings = settings.model_copy(update={"config": write_config(tmp_path, acme)})
    return settings, await start("escalation", settings), receiver


async def policy(http, esc, ref):
    async with http.get(f"{esc.url}/v1/sla/incidents/{ref}", headers=auth("admin-token")) as r:
        return (await r.json()).get("escalation") if r.status == 200 else None


def pages(receiver):
    return [json.loads(b) for _, b in receiver.on("/hook")]


async def test_unacknowledged_steps_escalate_and_repeat_then_ack_stops(settings, start, http, tmp_path):
    steps = [{"tier": 1, "after": "1s", "notify": ["ticketing"]},
             {"tier": 2, "after": "1s", "group": "dba-oncall", "notify": ["ticketing"]}]  # fmt: skip
    settings, esc, receiver = await start_with(settings, start, tmp_path, {"steps": steps, "repeat": 1})
    ignored = await Bus.open(settings, "P4")
    await ignored.opened()
    acked = await Bus.open(settings, "P4")
    await acked.opened()
    await acked.acknowledged(0.1)

    async def exhausted():
        p = await policy(http, esc, ignored.iid)
        return p and p["state"] == "exhausted" and p

    state = await eventually(exhausted, timeout=20)
    assert (state["round"], state["step"], state["tier"]) == (1, 1, 2)
    found = await stream_events(settings, STEP_TYPES, ignored.iid)
    summary = [(k, d.get("step"), d.get("round"), d.get("tier") or d.get("to_tier")) for k, d in found]
    assert summary == [
        ("escalation.step_started", 0, 0, 1),
        ("escalation.requested", None, None, 2),  # step 1 is Tier 2: ask triage to move the incident
        ("escalation.step_started", 1, 0, 2),
        ("escalation.step_started", 0, 1, 1),  # the repeat pages again, without moving the tier back
        ("escalation.step_started", 1, 1, 2),
    ]
    assert found[2][1]["group"] == "dba-oncall"
    # Every step paged its target; the acknowledged incident's policy stopped after its first page.
    step_pages = [p for p in pages(receiver) if p["trigger"] == "step" and p["incident"]["id"] == ignored.iid]
    assert len(step_pages) == 4 and "paging dba-oncall" in step_pages[1]["text"]
    await asyncio.sleep(1.5)
    acked_steps = await stream_events(settings, STEP_TYPES, acked.iid)
    assert [(d["step"], d["round"]) for _, d in acked_steps] == [(0, 0)]
    assert (await policy(http, esc, acked.iid))["state"] == "acknowledged"
    for inc in (ignored, acked):
        await inc.close()
    await receiver.stop()


async def test_manual_escalation_moves_the_policy_and_notifies(settings, start, http, tmp_path):
    steps = [{"tier": 1, "after": "1h"}, {"tier": 2, "after": "1h", "notify": ["ticketing"]},
             {"tier": 3, "after": "1h", "group": "vendor", "notify": ["ticketing"]}]  # fmt: skip
    settings, esc, receiver = await start_with(settings, start, tmp_path, {"steps": steps})
    inc = await Bus.open(settings, "P3")
    await inc.opened()
    await eventually(lambda: policy(http, esc, inc.iid))
    await inc.escalated(1, 3, reason="customer called the CEO")

    async def moved():
        p = await policy(http, esc, inc.iid)
        return p["step"] == 2 and p

    state = await eventually(moved)
    assert (state["tier"], state["state"]) == (3, "running")
    found = await stream_events(settings, {"escalation.step_started"}, inc.iid)
    assert found[-1][1]["reason"] == "escalated by hand: customer called the CEO"
    assert (found[-1][1]["tier"], found[-1][1]["group"]) == (3, "vendor")

    async def notified():
        return {p["trigger"] for p in pages(receiver)} >= {"step", "escalated"}

    await eventually(notified)
    clocks = await (await http.get(f"{esc.url}/v1/sla/incidents/{inc.iid}", headers=auth("admin-token"))).json()
    assert {c["tier"] for c in clocks["clocks"]} == {3}  # breach events will report the tier triage applied
    await inc.close()
    await receiver.stop()


async def test_category_policy_and_a_policy_that_starts_above_tier_1(settings, start, http, tmp_path):
    escalation = {
        "steps": [{"tier": 1, "after": "1h"}],
        "categories": {"security": {"steps": [{"tier": 2, "after": "1h", "group": "soc", "notify": ["ticketing"]}]}},
    }
    settings, esc, receiver = await start_with(settings, start, tmp_path, escalation)
    sec = await Bus.open(settings, "P2")
    await sec.opened(category="security")
    infra = await Bus.open(settings, "P2")
    await infra.opened(category="infrastructure")
    sec_policy = await eventually(lambda: policy(http, esc, sec.iid))
    infra_policy = await eventually(lambda: policy(http, esc, infra.iid))
    assert (sec_policy["policy"], sec_policy["tier"]) == ("category:security", 2)
    assert (infra_policy["policy"], infra_policy["tier"]) == ("default", 1)
    found = await stream_events(settings, STEP_TYPES, sec.iid)
    assert [k for k, _ in found] == ["escalation.requested", "escalation.step_started"]
    assert (found[0][1]["from_tier"], found[0][1]["to_tier"]) == (1, 2)
    await eventually(lambda: _paged(receiver, sec.iid))
    for inc in (sec, infra):
        await inc.close()
    await receiver.stop()


async def _paged(receiver, iid):
    return any(p["incident"]["id"] == iid and p["trigger"] == "step" for p in pages(receiver))


async def test_a_reopened_incident_nobody_acknowledged_is_paged_again(settings, start, http, tmp_path):
    """Resolved by its tool before anyone responded, then back: it is in the queue as new, so the policy runs
    again. One that was acknowledged before goes back to whoever had it and pages nobody."""
    steps = [{"tier": 1, "after": "1h", "notify": ["ticketing"]}]
    settings, esc, _ = await start_with(settings, start, tmp_path, {"steps": steps})
    unanswered, answered = await Bus.open(settings, "P4"), await Bus.open(settings, "P4")
    for inc in (unanswered, answered):
        await inc.opened()
    await answered.acknowledged(1)
    for inc in (unanswered, answered):
        await inc.resolved(2)
    await answered.reopened(3, state="in_progress")  # first: handled (in stream order) before the other one
    await unanswered.reopened(3, state="new")

    async def paged_twice():
        found = await stream_events(settings, {"escalation.step_started"}, unanswered.iid)
        return len(found) == 2 and found

    found = await eventually(paged_twice)
    assert [d["reason"] for _, d in found] == ["incident opened", "incident reopened, never acknowledged"]
    assert (await policy(http, esc, unanswered.iid))["state"] == "running"
    assert (await policy(http, esc, answered.iid))["state"] == "closed"
    assert len(await stream_events(settings, {"escalation.step_started"}, answered.iid)) == 1


async def test_a_step_and_a_response_breach_together_escalate_one_tier(settings, start, http, tmp_path):
    """Tier 1's policy step runs out at 1 s (the policy asks for Tier 2) and the response target at 3 s: both
    say "nobody answered at Tier 1". Triage applies the step's request before the breach fires; the breach
    must not then ask for Tier 3."""
    steps = [{"tier": 1, "after": "1s"}, {"tier": 2, "after": "1h"}, {"tier": 3, "after": "1h"}]
    sla = {p: {"respond": "3s", "resolve": "1h"} for p in ("P1", "P2", "P3", "P4", "P5")}
    acme = {"contract": {"sla": sla}, "escalation": {"steps": steps}}
    settings = settings.model_copy(update={"config": write_config(tmp_path, acme)})
    await start("escalation", settings)
    inc = await Bus.open(settings, "P3")
    await inc.opened()

    async def asked() -> list:
        return await stream_events(settings, {"escalation.requested"}, inc.iid)

    [request] = await eventually(asked)
    assert (request[1]["from_tier"], request[1]["to_tier"]) == (1, 2)
    await inc.escalated(1, 2, reason=request[1]["reason"])  # as triage answers it

    async def breached() -> list:
        return await stream_events(settings, {"sla.breached"}, inc.iid)

    [breach] = await eventually(breached, timeout=10)
    assert breach[1]["clock"] == "response"
    requests = [(d["from_tier"], d["to_tier"]) for _, d in await asked()]
    assert requests == [(1, 2)]  # one tier, not 1 -> 2 -> 3
    await inc.close()
