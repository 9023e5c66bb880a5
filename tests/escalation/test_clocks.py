"""SLA clocks against real NATS + PostgreSQL: start on open, stop on acknowledge, breach escalates once."""

from __future__ import annotations

import asyncio

from libs.bus import connect_bus
from libs.contracts import IncidentAcknowledged
from libs.events import raise_event, utcnow
from services.escalation.domain.clock import LATE_AFTER
from tests.conftest import auth, eventually
from tests.escalation.support import stream_events
from tests.events import Incident


def opened(priority="P1", tenant="acme", number="ACME-1", incident_id="7f1c1c1e-0000-4000-8000-000000000001"):
    """An incident opened now, so its clocks run from now."""
    return Incident(incident_id, priority, utcnow(), tenant, number=number).opened()


async def opened_with_clocks(settings, start, http, **incident):
    """A running escalation service that has started the clocks of one freshly opened incident."""
    esc = await start("escalation", settings)
    bus = await connect_bus(settings, name="test")
    env = opened(**incident)
    await bus.publish(env)
    await eventually(lambda: has_clocks(http, esc, env.data["incident_id"]))
    return esc, bus, env


async def clocks(http, esc, incident_id, token="admin-token"):
    async with http.get(f"{esc.url}/v1/sla/incidents/{incident_id}", headers=auth(token)) as r:
        return r.status, await r.json()


async def has_clocks(http, esc, incident_id):
    return (await clocks(http, esc, incident_id))[0] == 200


async def test_breach_fires_once_and_requests_escalation(settings, start, http):
    esc = await start("escalation", settings)
    bus = await connect_bus(settings, name="test")
    env = opened()
    await bus.publish(env)
    await bus.publish(env)  # a duplicate delivery must not start a second pair of clocks
    iid = env.data["incident_id"]

    async def breached():
        status, body = await clocks(http, esc, iid)
        return status == 200 and any(c["state"] == "breached" for c in body["clocks"]) and body

    body = await eventually(breached, timeout=10)
    by_clock = {c["clock"]: c for c in body["clocks"]}
    assert by_clock["response"]["state"] == "breached"
    assert by_clock["resolution"]["state"] == "running"  # 1 h target
    assert set(by_clock["response"]["coverage"]) & {"days", "start", "end"} == set()  # a 24x7 clock has no hours
    watched = {"sla.breached", "escalation.requested", "sla.clocks_started", "sla.clock_started"}
    found = await eventually(lambda: stream_events(settings, watched))
    kinds = sorted(k for k, _ in found)
    assert kinds == ["escalation.requested", "sla.breached", "sla.clocks_started"]  # both clocks in one event
    started = next(d for k, d in found if k == "sla.clocks_started")
    assert (started["incident_id"], [c["clock"] for c in started["clocks"]]) == (iid, ["response", "resolution"])
    assert {c["clock"]: c["target_s"] for c in started["clocks"]} == {c["clock"]: c["target_s"] for c in body["clocks"]}
    await bus.close()


async def test_acknowledge_stops_response_clock_in_time(settings, start, http):
    esc, bus, env = await opened_with_clocks(
        settings, start, http, priority="P3", incident_id="7f1c1c1e-0000-4000-8000-000000000002"
    )
    iid = env.data["incident_id"]
    ack = IncidentAcknowledged(incident_id=iid, number="ACME-1", by="eve", at=utcnow())
    await bus.publish(raise_event("incident.acknowledged", ack, source="triage", tenant="acme", cause=env))

    async def stopped():
        status, body = await clocks(http, esc, iid)
        return status == 200 and {c["clock"]: c for c in body["clocks"]}["response"]["state"] == "stopped" and body

    body = await eventually(stopped)
    response = {c["clock"]: c for c in body["clocks"]}["response"]
    assert response["met"] is True
    await bus.close()


async def test_clock_api_tenant_wall(settings, start, http):
    esc, bus, env = await opened_with_clocks(
        settings, start, http, priority="P3", incident_id="7f1c1c1e-0000-4000-8000-000000000003"
    )
    iid = env.data["incident_id"]
    assert (await clocks(http, esc, iid, token="acme-viewer-token"))[0] == 200
    status, body = await clocks(http, esc, iid, token="globex-viewer-token")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await clocks(http, esc, "acme-1")  # by number too, in any case
    assert status == 200 and body["incident_id"] == iid
    status, body = await clocks(http, esc, "ACME-999")
    assert status == 404 and body["error"]["code"] == "not_found"
    await bus.close()


async def breaches_on_stream(settings) -> list[str]:
    return [data["incident_id"] for _, data in await stream_events(settings, {"sla.breached"})]


async def test_deadline_that_passed_while_down_fires_once_at_start_marked_late(settings, start, http):
    bus = await connect_bus(settings, name="test")
    esc = await start("escalation", settings)
    env = opened(incident_id="7f1c1c1e-0000-4000-8000-000000000004")
    await bus.publish(env)
    iid = env.data["incident_id"]
    await eventually(lambda: has_clocks(http, esc, iid))
    await esc.stop()  # down before the 2 s response deadline...
    await asyncio.sleep(LATE_AFTER.total_seconds() + 2.5)  # ...and it passes, by more than the lateness bound
    esc = await start("escalation", settings)

    async def breached():
        _, body = await clocks(http, esc, iid)
        return {c["clock"]: c for c in body["clocks"]}["response"]["state"] == "breached" and body

    body = await eventually(breached)
    assert {c["clock"]: c for c in body["clocks"]}["response"]["fired_late"] is True
    await esc.stop()
    esc = await start("escalation", settings)  # another restart fires nothing again
    await asyncio.sleep(1)
    assert await breaches_on_stream(settings) == [iid]
    await bus.close()


async def test_two_replicas_fire_each_deadline_once(settings, start, http):
    for _ in range(2):  # two replicas sharing one durable consumer and one clocks table
        await start("escalation", settings)
    bus = await connect_bus(settings, name="test")
    ids = [f"7f1c1c1e-0000-4000-8000-{n:012d}" for n in range(100, 160)]
    for iid in ids:
        await bus.publish(opened(incident_id=iid, number=f"ACME-{iid[-3:]}"))

    async def all_breached():
        found = await breaches_on_stream(settings)
        return len(found) >= len(ids) and found

    found = await eventually(all_breached, timeout=20)
    await asyncio.sleep(1)  # give a double firing the chance to show
    found = await breaches_on_stream(settings)
    assert sorted(found) == sorted(ids)  # every deadline fired, none twice
    await bus.close()
