"""What change consumes from the bus: incidents opened on changed CIs become suspected-cause links (and a
P1/P2 makes the change count as failed until a reviewer clears it); tools' change signals become unmanaged
changes on the calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from libs.bus import connect_bus
from libs.contracts import ChangeSignalReceived
from libs.events import utcnow
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
