"""SLA clocks against real NATS + PostgreSQL: warnings, breach and escalation in order; holds that move the
resolution deadline; coverage calendars; a restart between warning and breach; two replicas."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from libs.bus import connect_bus
from libs.events import utcnow
from libs.testing import apply_config
from services.escalation.domain.clock import LATE_AFTER
from tests.conftest import auth, config_version, eventually
from tests.escalation.support import SECRET, Bus, Receiver, stream_events, write_config
from tests.events import Incident

SLA = {
    "P1": {"respond": "2s", "resolve": "1h"},
    "P2": {"respond": "6s", "resolve": "2h"},
    "P3": {"respond": "1h", "resolve": "8h"},
    "P4": {"respond": "4h", "resolve": "2d"},
    "P5": {"respond": "8h", "resolve": "5d"},
}
SLA_TYPES = {"sla.warning", "sla.breached", "escalation.requested", "sla.clock_paused", "sla.clock_resumed"}


def acme(receiver: Receiver, **extra):
    return {
        "contract": {"sla": SLA},
        "escalation": {"steps": [{"tier": 1, "after": "1h"}, {"tier": 2, "after": "1h"}, {"tier": 3, "after": "1h"}]},
        "notifications": {
            "targets": [
                {"name": "ticketing", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET},
                {"name": "chat", "kind": "slack", "url": f"{receiver.url}/slack", "triggers": ["sla_breached"]},
            ]
        },
        **extra,
    }


async def clocks(http, esc, ref, token="admin-token"):
    async with http.get(f"{esc.url}/v1/sla/incidents/{ref}", headers=auth(token)) as r:
        body = await r.json()
        return r.status, body


async def clock(http, esc, ref, name):
    status, body = await clocks(http, esc, ref)
    return {c["clock"]: c for c in body["clocks"]}[name] if status == 200 else None


async def stack(settings, start, tmp_path, **acme_extra):
    receiver = await Receiver().start()
    path = write_config(tmp_path, acme(receiver, **acme_extra))
    settings = settings.model_copy(update={"config": path, "notify_backoff_s": 0.2})
    esc = await start("escalation", settings)
    return settings, esc, receiver


async def test_warning_then_breach_then_escalation_in_order_with_notifications(settings, start, http, tmp_path):
    settings, _esc, receiver = await stack(settings, start, tmp_path)
    inc = await Bus.open(settings, "P1")
    await inc.opened()

    async def fired():
        found = await stream_events(settings, SLA_TYPES, inc.iid)
        return len(found) >= 4 and found

    found = await eventually(fired, timeout=15)
    kinds = [(k, d.get("clock"), d.get("fraction")) for k, d in found]
    assert kinds == [
        ("sla.warning", "response", 0.75),
        ("sla.warning", "response", 0.9),
        ("sla.breached", "response", None),
        ("escalation.requested", None, None),
    ]
    assert all(d["calendar"] == "24x7" for k, d in found if k.startswith("sla."))
    assert (found[3][1]["from_tier"], found[3][1]["to_tier"]) == (1, 2)
    # The ticketing webhook asked for every trigger: opened (P1), both warnings, the breach; Slack only the breach.

    async def delivered():
        return len(receiver.on("/hook")) >= 4 and len(receiver.on("/slack")) >= 1

    await eventually(delivered)
    hook_triggers = sorted(json.loads(b)["trigger"] for _, b in receiver.on("/hook"))
    assert hook_triggers == ["opened", "sla_breached", "sla_warning", "sla_warning"]
    await inc.close()
    await receiver.stop()


async def _count(receiver, path, n):
    return len(receiver.on(path)) >= n


async def test_ack_stops_the_response_clock_and_its_warnings(settings, start, http, tmp_path):
    settings, esc, receiver = await stack(settings, start, tmp_path)
    inc = await Bus.open(settings, "P2")  # respond 6 s
    await inc.opened()
    await eventually(lambda: clock(http, esc, inc.iid, "response"))
    await inc.acknowledged(0.5)
    stopped = await eventually(lambda: _state(http, esc, inc.iid, "response", "stopped"))
    assert stopped["met"] is True and stopped["next_fire_at"] is None
    await asyncio.sleep(7)  # past the 75 %, 90 % and 100 % points of the stopped clock
    found = await stream_events(settings, SLA_TYPES | {"sla.clock_stopped"}, inc.iid)
    assert [k for k, _ in found] == ["sla.clock_stopped"]
    assert found[0][1]["calendar"] == "24x7" and found[0][1]["coverage_s"] == 0.5
    await inc.close()
    await receiver.stop()


async def _state(http, esc, ref, name, state):
    c = await clock(http, esc, ref, name)
    return c if c and c["state"] == state else None


async def test_hold_pending_customer_moves_the_resolution_deadline_and_vendor_does_not(settings, start, http, tmp_path):
    settings, esc, receiver = await stack(settings, start, tmp_path)
    opened_at = utcnow() - timedelta(seconds=100)
    inc = await Bus.open(settings, "P3", opened_at=opened_at)  # resolve 8 h
    await inc.opened()
    before = await eventually(lambda: clock(http, esc, inc.iid, "resolution"))
    assert datetime.fromisoformat(before["due_at"]) == opened_at + timedelta(hours=8)
    await inc.held(10)
    paused = await eventually(lambda: _state(http, esc, inc.iid, "resolution", "paused"))
    assert paused["next_fire_at"] is None  # nothing fires while paused
    await inc.resumed(70)
    await inc.held(80, reason="pending_vendor")  # this contract does not pause for vendors
    await inc.resumed(90, reason="pending_vendor")

    async def moved():
        c = await clock(http, esc, inc.iid, "resolution")
        return c["state"] == "running" and c["paused_s"] == 60 and c

    after = await eventually(moved)
    assert datetime.fromisoformat(after["due_at"]) == opened_at + timedelta(hours=8, seconds=60)
    assert datetime.fromisoformat(after["next_fire_at"]) == opened_at + timedelta(hours=6, seconds=60)  # 75 %
    found = await stream_events(settings, SLA_TYPES, inc.iid)
    assert [k for k, _ in found] == ["sla.clock_paused", "sla.clock_resumed"]
    paused_ev, resumed_ev = found[0][1], found[1][1]
    assert paused_ev["reason"] == "pending_customer" and paused_ev["counted_s"] == 10
    assert resumed_ev["paused_s"] == 60 and resumed_ev["calendar"] == "24x7"
    assert datetime.fromisoformat(resumed_ev["due_at"]) == opened_at + timedelta(hours=8, seconds=60)
    await inc.resolved(200)
    stopped = await eventually(lambda: _state(http, esc, inc.iid, "resolution", "stopped"))
    assert stopped["met"] is True
    stops = {d["clock"]: d for _, d in await stream_events(settings, {"sla.clock_stopped"}, inc.iid)}
    assert (stops["resolution"]["coverage_s"], stops["resolution"]["paused_s"]) == (140, 60)  # 200 s open, 60 paused
    await inc.close()
    await receiver.stop()


async def test_business_hours_clock_opened_outside_coverage_counts_from_the_next_window(settings, start, http):
    esc = await start("escalation", settings)
    bus = await connect_bus(settings, name="test")
    saturday = datetime(2030, 3, 9, 15, 0, tzinfo=UTC)  # Globex: 07:00-19:00 New York, weekdays
    inc = Incident("7f1c1c1e-0000-4000-8000-00000000a001", "P1", saturday, tenant="globex", number="GLOBEX-1")
    await bus.publish(inc.opened())
    response = await eventually(lambda: clock(http, esc, "GLOBEX-1", "response"))
    # 30 min from Monday 07:00 EDT (DST began the day after the incident opened): 11:30 UTC.
    assert datetime.fromisoformat(response["due_at"]) == datetime(2030, 3, 11, 11, 30, tzinfo=UTC)
    assert response["calendar"] == "07:00-19:00 mon,tue,wed,thu,fri America/New_York"
    assert response["coverage"]["timezone"] == "America/New_York"
    await bus.close()


async def test_restart_between_warning_and_breach_misses_and_doubles_nothing(settings, start, http, tmp_path):
    settings, esc, receiver = await stack(settings, start, tmp_path)
    inc = await Bus.open(settings, "P2")  # respond 6 s: warnings at 4.5 s and 5.4 s
    await inc.opened()
    await eventually(lambda: _warned(http, esc, inc.iid), timeout=15)
    await esc.stop()  # down somewhere after the first warning
    await asyncio.sleep(6 + LATE_AFTER.total_seconds() + 0.5)  # the rest falls due while down, by more than late
    esc = await start("escalation", settings)
    await eventually(lambda: _state(http, esc, inc.iid, "response", "breached"), timeout=15)
    await esc.stop()
    esc = await start("escalation", settings)  # another restart fires nothing again
    await asyncio.sleep(1)
    found = await stream_events(settings, SLA_TYPES, inc.iid)
    assert [(k, d.get("fraction")) for k, d in found] == [
        ("sla.warning", 0.75),
        ("sla.warning", 0.9),
        ("sla.breached", None),
        ("escalation.requested", None),
    ]
    assert found[2][1]["late"] is True
    # The notifications queued before and after the restart went out once each: opened, 2 warnings, breach.
    await eventually(lambda: _count(receiver, "/hook", 4))
    await asyncio.sleep(0.5)
    deliveries = [h["Tierline-Delivery"] for h, _ in receiver.on("/hook")]
    assert len(deliveries) == len(set(deliveries)) == 4
    await inc.close()
    await receiver.stop()


async def _warned(http, esc, ref):
    c = await clock(http, esc, ref, "response")
    return c and c["warned"] >= 1


async def test_two_replicas_fire_each_point_and_send_each_notification_once(settings, start, http, tmp_path):
    settings, _esc, receiver = await stack(settings, start, tmp_path)
    await start("escalation", settings)  # a second replica: same consumer, same tables
    bus = await connect_bus(settings, name="test")
    now = utcnow()
    incidents = [Incident(f"7f1c1c1e-0000-4000-8000-{n:012d}", "P1", now, number=f"ACME-{n}") for n in range(30)]
    await bus.publish_many([i.opened() for i in incidents])

    async def all_fired():
        found = await stream_events(settings, {"sla.warning", "sla.breached"})
        return len(found) >= 3 * len(incidents) and found

    await eventually(all_fired, timeout=30)
    await eventually(lambda: _count(receiver, "/hook", 4 * len(incidents)), timeout=30)
    await asyncio.sleep(1)  # give a double firing or a double send the chance to show
    found = await stream_events(settings, {"sla.warning", "sla.breached"})
    points = [(d["incident_id"], k, d.get("fraction")) for k, d in found]
    assert len(points) == len(set(points)) == 3 * len(incidents)
    deliveries = [h["Tierline-Delivery"] for h, _ in receiver.on("/hook")]
    assert len(deliveries) == len(set(deliveries)) == 4 * len(incidents)  # opened, 2 warnings, breach each
    await bus.close()
    await receiver.stop()


async def test_priority_change_retargets_from_the_opening_contract_and_reopen_restarts_resolution(
    settings, start, http, tmp_path
):
    settings, esc, receiver = await stack(settings, start, tmp_path)
    opened_at = utcnow() - timedelta(seconds=100)
    inc = await Bus.open(settings, "P3", opened_at=opened_at)  # respond 1 h, resolve 8 h
    await inc.opened()
    await eventually(lambda: clock(http, esc, inc.iid, "resolution"))
    await inc.priority_changed("P3", "P5", after_s=20)

    async def retargeted():
        c = await clock(http, esc, inc.iid, "resolution")
        return c["priority"] == "P5" and c

    resolution = await eventually(retargeted)
    assert datetime.fromisoformat(resolution["due_at"]) == opened_at + timedelta(days=5)  # from the same start
    await inc.resolved(50)
    await eventually(lambda: _state(http, esc, inc.iid, "resolution", "stopped"))
    await inc.reopened(80)
    running = await eventually(lambda: _state(http, esc, inc.iid, "resolution", "running"))
    assert running["paused_s"] == 30  # the 30 s it spent resolved do not count
    assert datetime.fromisoformat(running["due_at"]) == opened_at + timedelta(days=5, seconds=30)
    found = await stream_events(settings, {"sla.clock_retargeted", "sla.clock_stopped", "sla.clock_resumed"}, inc.iid)
    assert [(k, d["clock"]) for k, d in found] == [
        ("sla.clock_retargeted", "resolution"),
        ("sla.clock_retargeted", "response"),
        ("sla.clock_stopped", "resolution"),
        ("sla.clock_stopped", "response"),
        ("sla.clock_resumed", "resolution"),
    ]
    assert found[0][1]["from_priority"] == "P3" and found[-1][1]["reason"] == "reopened"
    await inc.close()
    await receiver.stop()


async def test_a_contract_change_applies_to_new_incidents_only(settings, start, http, tmp_path):
    settings, esc, receiver = await stack(settings, start, tmp_path)
    before = await Bus.open(settings, "P3")  # resolve 8 h under the first contract
    await before.opened()
    old = await eventually(lambda: clock(http, esc, before.iid, "resolution"))
    longer = {**SLA, "P3": {"respond": "2h", "resolve": "1d"}}
    path = write_config(tmp_path, acme(receiver, contract={"sla": longer, "warn_at": [0.5]}), name="changed.yaml")
    version = await apply_config(settings, path)  # no restart: escalation swaps to it
    await eventually(lambda: config_version(http, esc, version))
    after = await Bus.open(settings, "P3")
    await after.opened()
    new = await eventually(lambda: clock(http, esc, after.iid, "resolution"))
    assert new["target_s"] == 86_400 and new["warn_at"] == [0.5]
    kept = await clock(http, esc, before.iid, "resolution")
    assert (kept["target_s"], kept["due_at"], kept["warn_at"]) == (28_800, old["due_at"], [0.75, 0.9])
    await before.priority_changed("P3", "P3", after_s=1)  # re-targeting too uses the contract it opened under

    async def retargeted():
        return await stream_events(settings, {"sla.clock_retargeted"}, before.iid)

    found = await eventually(retargeted)
    assert {d["clock"]: d["target_s"] for _, d in found} == {"response": 3600, "resolution": 28_800}
    assert (await clock(http, esc, before.iid, "resolution"))["target_s"] == 28_800
    for inc in (before, after):
        await inc.close()
    await receiver.stop()
