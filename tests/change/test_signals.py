"""What change consumes from the bus: incidents opened on changed CIs become suspected-cause links (and a
P1/P2 makes the change count as failed until a reviewer clears it); tools' change signals become unmanaged
changes on the calendar."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import pytest

from libs.bus import connect_bus
from libs.contracts import ChangeSignalReceived
from libs.events import utcnow
from libs.subscriptions import Dispatcher
from libs.testing import consumer_caught_up
from libs.uow import Tx
from services.change.handlers import SUBSCRIPTIONS, lock_cis
from tests.change.client import act, call, create, get, ok, published
from tests.conftest import eventually
from tests.events import Incident, event


@pytest.fixture
async def svc(settings, start):
    return await start("change", settings)


@pytest.fixture
async def bus(settings):
    bus = await connect_bus(settings, name="test")
    yield bus
    await bus.close()


async def implemented(http, svc, *, finish: str | None = "complete", ci: str = "erp-db") -> dict:
    """An emergency change on `ci`, approved, started now, and (unless finish is None) finished now."""
    change = await create(http, svc, change_type="emergency", ci=ci)
    change = await ok(http, svc, change, "submit")
    change = await ok(http, svc, change, "approve", "bob-token")
    window = {"planned_start": (utcnow() + timedelta(days=1)).isoformat(), "planned_end": "2031-01-01T00:00:00Z"}
    change = await ok(http, svc, change, "schedule", json=window | {"override_reason": "test"})
    change = await ok(
        http, svc, change, "start", "eng-token", json={"override_reason": "test: ahead of its planned window"}
    )
    if finish == "fail":
        return await ok(http, svc, change, "fail", "eng-token", json={"rollback": "reverted"})
    return await ok(http, svc, change, finish, "eng-token") if finish else change


def incident(n: int, priority: str, *, ci: str = "erp-db", after: timedelta = timedelta(0), at=None):
    opened_at = at or utcnow() + after
    env = Incident(f"00000000-0000-4000-8000-{n:012d}", priority, opened_at, number=f"ACME-{n}").opened()
    return env.model_copy(update={"data": env.data | {"ci": ci}})


async def linked(http, svc, change: dict, count: int) -> dict:
    async def check() -> dict | None:
        body = await get(http, svc, change["id"])
        return body if len(body["incidents"]) >= count else None

    return await eventually(check)


async def test_a_p1_on_the_changed_ci_after_completion_fails_the_change_until_cleared(settings, svc, bus, http):
    change = await implemented(http, svc)
    assert change["outcome"] == "successful"
    p1 = incident(1, "P1")
    for env in (
        incident(2, "P1", ci="office-wifi"),  # another CI
        incident(3, "P1", after=timedelta(hours=2)),  # outside acme's 1h incident_link_window
        p1,
        p1,  # redelivered
        p1.model_copy(update={"id": "another-copy"}),  # republished under a new event id
        incident(4, "P3"),  # linked, but a P3 does not fail a change
    ):
        await bus.publish(env)
    change = await linked(http, svc, change, 2)
    assert [(i["incident_number"], i["priority"], i["counts_as_failed"]) for i in change["incidents"]] == [
        ("ACME-1", "P1", True),
        ("ACME-4", "P3", False),
    ]
    assert change["outcome"] == "failed" and change["state"] == "completed"

    status, body = await act(http, svc, change, "incidents/ACME-1/clear", "eng-token", json={"reason": "x"})
    assert status == 403  # a reviewer (change manager) clears
    status, body = await act(http, svc, change, "incidents/ACME-1/clear")
    assert status == 422 and body["error"]["details"][0]["field"] == "reason"
    status, body = await act(http, svc, change, "incidents/ACME-9/clear", json={"reason": "x"})
    assert status == 404
    reason = {"reason": "disk failure, unrelated to the patch"}
    change = await ok(http, svc, change, "incidents/ACME-1/clear", json=reason)
    assert change["outcome"] == "successful"
    cleared = change["incidents"][0]
    assert (cleared["cleared_by"], cleared["clear_reason"], cleared["counts_as_failed"]) == (
        "alice",
        reason["reason"],
        False,
    )

    events = [e for e in await published(settings, "change.>", 12) if e.short_type.startswith("change.incident")]
    assert [(e.short_type, e.data["incident_number"], e.data["outcome"]) for e in events] == [
        ("change.incident_linked", "ACME-1", "failed"),
        ("change.incident_linked", "ACME-4", "failed"),
        ("change.incident_cleared", "ACME-1", "successful"),
    ]
    assert events[0].data["counts_as_failed"] and not events[2].data["counts_as_failed"]
    assert events[0].causationid == p1.id and events[2].data["by"] == "alice"


async def test_incidents_during_implementation_are_linked_and_count_once_it_ends(settings, svc, bus, http):
    change = await implemented(http, svc, finish=None)
    await bus.publish(incident(5, "P2"))
    change = await linked(http, svc, change, 1)
    assert change["outcome"] is None  # not finished yet
    change = await ok(http, svc, change, "complete", "eng-token")
    assert change["outcome"] == "failed"  # completed, but with an uncleared P2 against it
    events = await published(settings, "change.completed.acme", 1)
    assert events[0].data["outcome"] == "failed"


async def test_an_incident_opened_during_implementation_is_linked_even_when_it_arrives_later(svc, bus, http):
    change = await implemented(http, svc)
    started, ended = datetime.fromisoformat(change["started_at"]), datetime.fromisoformat(change["ended_at"])
    await bus.publish(incident(6, "P1", at=started - timedelta(minutes=5)))  # before the change: not its doing
    await bus.publish(incident(7, "P2", at=started + (ended - started) / 2))
    change = await linked(http, svc, change, 1)
    assert [i["incident_number"] for i in change["incidents"]] == ["ACME-7"] and change["outcome"] == "failed"


async def test_tool_reported_changes_land_on_the_calendar_once(settings, svc, bus, http):
    at = utcnow().replace(microsecond=0)
    signal = ChangeSignalReceived(
        signal_id="sig-1",
        source="pagerduty",
        integration="prometheus",
        summary="Deployed build 4711 to erp-db",
        ci="erp-db",
        timestamp=at,
        received_at=at + timedelta(seconds=1),
        custom_details={"build": "4711"},
        links=[{"href": "https://ci.example/4711", "text": "build"}],
    )
    first = event("intake.change_received", signal, at)
    await bus.publish(first)
    await bus.publish(event("intake.change_received", signal, at))  # the same signal under another event id
    await bus.publish(event("intake.change_received", signal, at, tenant="globex"))

    async def on_calendar() -> list:
        _, cal = await call(http, "GET", f"{svc.url}/v1/changes/calendar", "acme-viewer-token")
        return [i for i in cal["items"] if i["kind"] == "unmanaged"]

    [item] = await eventually(on_calendar)
    assert (item["signal_id"], item["summary"], item["ci"], item["source"]) == (
        "sig-1",
        "Deployed build 4711 to erp-db",
        "erp-db",
        "pagerduty",
    )
    assert item["start"] == at.isoformat() and item["custom_details"] == {"build": "4711"}
    recorded = await published(settings, "change.unmanaged_recorded.*", 2)
    assert sorted(e.tenant for e in recorded) == ["acme", "globex"]
    assert recorded[0].causationid == first.id


async def test_an_incident_soon_after_a_tool_reported_change_on_its_ci_is_linked_to_it(settings, svc, bus, http):
    at = utcnow().replace(microsecond=0)

    def signal(sid: str, ci: str, when):  # type: ignore[no-untyped-def]
        s = ChangeSignalReceived(signal_id=sid, source="argocd", integration="deploys", summary=f"deploy {sid}",
                                 ci=ci, timestamp=when, received_at=when)  # fmt: skip
        return event("intake.change_received", s, when)

    for env in (
        signal("deploy-erp", "erp-db", at),
        signal("deploy-wifi", "office-wifi", at),  # another CI
        signal("deploy-old", "erp-db", at - timedelta(hours=2)),  # before acme's 1 h incident_link_window
    ):
        await bus.publish(env)
    await published(settings, "change.unmanaged_recorded.*", 3)
    opened = incident(11, "P2", at=at + timedelta(minutes=10))
    await bus.publish(opened)
    await bus.publish(opened.model_copy(update={"id": "another-delivery-of-the-same"}))  # linked once

    [link] = await published(settings, "change.unmanaged_linked.*", 1)
    assert (link.data["signal_id"], link.data["incident_number"], link.data["priority"]) == (
        "deploy-erp",
        "ACME-11",
        "P2",
    )
    assert link.tenant == "acme" and link.causationid == opened.id
    span = {"from": (at - timedelta(hours=3)).isoformat(), "to": (at + timedelta(hours=1)).isoformat()}
    _, cal = await call(http, "GET", f"{svc.url}/v1/changes/calendar", "acme-viewer-token", params=span)
    followed = {
        i["signal_id"]: [x["incident_number"] for x in i["incidents"]] for i in cal["items"] if i["kind"] == "unmanaged"
    }
    assert followed == {"deploy-erp": ["ACME-11"], "deploy-wifi": [], "deploy-old": []}


async def test_a_change_event_that_arrives_after_its_incident_is_linked_to_it(settings, svc, bus, http):
    """A pipeline reports a deploy when it finishes; the alert it caused fired halfway through."""
    at = utcnow().replace(microsecond=0) - timedelta(minutes=30)

    def signal(sid: str, when, tenant: str = "acme", ci: str = "erp-db"):  # type: ignore[no-untyped-def]
        s = ChangeSignalReceived(signal_id=sid, source="argocd", integration="deploys", summary=f"deploy {sid}",
                                 ci=ci, timestamp=when, received_at=utcnow())  # fmt: skip
        return event("intake.change_received", s, utcnow(), tenant=tenant)

    for env in (
        incident(21, "P1", at=at + timedelta(minutes=5)),
        incident(22, "P3", at=at + timedelta(minutes=20)),
        incident(23, "P2", at=at - timedelta(minutes=1)),  # before the deploy: not its doing
        incident(24, "P1", at=at + timedelta(minutes=5), ci="office-wifi"),  # another CI
    ):
        await bus.publish(env)
    assert await consumer_caught_up(settings, "change")  # handled (nothing to link yet) before the deploy arrives
    late = signal("deploy-late", at)
    for env in (
        late,
        late.model_copy(update={"id": "another-delivery-of-the-same"}),  # linked once
        signal("deploy-globex", at, tenant="globex"),  # the same CI name at another tenant: a wall
        signal("deploy-too-early", at - timedelta(hours=2)),  # acme's window (1 h) ends before ACME-21
    ):
        await bus.publish(env)

    links = await published(settings, "change.unmanaged_linked.*", 2)
    assert [(e.data["signal_id"], e.data["incident_number"], e.data["priority"]) for e in links] == [
        ("deploy-late", "ACME-21", "P1"),
        ("deploy-late", "ACME-22", "P3"),
    ]
    assert {(e.tenant, e.causationid) for e in links} == {("acme", late.id)}
    assert links[0].data["changed_at"] == at.isoformat().replace("+00:00", "Z") and links[0].subject == "deploy-late"
    span = {"from": (at - timedelta(hours=3)).isoformat(), "to": (at + timedelta(hours=1)).isoformat()}
    _, cal = await call(http, "GET", f"{svc.url}/v1/changes/calendar", "acme-viewer-token", params=span)
    followed = {
        i["signal_id"]: [x["incident_number"] for x in i["incidents"]] for i in cal["items"] if i["kind"] == "unmanaged"
    }
    assert followed == {"deploy-late": ["ACME-21", "ACME-22"], "deploy-too-early": []}


async def test_an_incident_and_its_change_event_handled_at_once_by_two_replicas_still_meet(settings, svc, config):
    """Replica A handles the incident while replica B handles the change event, each in its own transaction:
    without the CI lock each would miss the other's uncommitted row, and neither would link them."""
    dispatch = Dispatcher(SUBSCRIPTIONS, lambda: config, before=lock_cis)

    async def apply(conn, envs):  # type: ignore[no-untyped-def]
        tx = Tx(conn)
        await dispatch(tx, envs)
        return tx.events

    at = utcnow().replace(microsecond=0)
    s = ChangeSignalReceived(signal_id="deploy-racing", source="argocd", integration="deploys", summary="deploy",
                             ci="erp-db", timestamp=at, received_at=at)  # fmt: skip
    deploy, p1 = event("intake.change_received", s, at), incident(31, "P1", at=at + timedelta(minutes=1))
    a, b = [await asyncpg.connect(settings.database_url, server_settings={"search_path": "change"}) for _ in "ab"]
    try:
        tx_a, tx_b = a.transaction(), b.transaction()
        await tx_a.start()
        await tx_b.start()
        from_a = await apply(a, [p1])  # A holds erp-db until it commits
        b_handles = asyncio.create_task(apply(b, [deploy]))
        await asyncio.sleep(0.3)
        assert not b_handles.done()  # B waits for A...
        await tx_a.commit()
        from_b = await b_handles  # ...and then sees A's incident
        await tx_b.commit()
    finally:
        await a.close()
        await b.close()
    assert [e.short_type for e in from_a] == []
    links = [e for e in from_b if e.short_type == "change.unmanaged_linked"]
    assert [(e.data["signal_id"], e.data["incident_number"]) for e in links] == [("deploy-racing", "ACME-31")]
