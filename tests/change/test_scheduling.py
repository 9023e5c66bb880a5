"""Scheduling through the running service: freeze refusal and override, each kind of conflict, the calendar."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.change.client import SAT, H, act, approved, call, change_events, create, get, iso, ok, scheduled, window

FROZEN = datetime(2030, 12, 24, 10, tzinfo=UTC)  # inside acme's year-end freeze


@pytest.fixture
async def svc(settings, start):
    return await start("change", settings)


async def test_freeze_refuses_a_normal_change_even_with_a_reason(settings, svc, http):
    change = await approved(http, svc, **window(FROZEN))
    for body in ({}, {"override_reason": "the client insists"}):
        status, refused = await act(http, svc, change, "schedule", json=body)
        assert status == 409 and refused["error"]["code"] == "change_freeze", refused
        assert refused["error"]["details"] == [
            {"freeze": "year-end", "start": "2030-12-20T00:00:00+00:00", "end": "2031-01-03T00:00:00+00:00"}
        ]
    assert (await get(http, svc, change["id"]))["state"] == "approved"
    assert len(await change_events(settings, 6)) == 6  # the refusals raised nothing
    # Moved out of the freeze, it schedules.
    change = await ok(http, svc, change, "schedule", json=window(FROZEN + 30 * 24 * H))
    assert change["state"] == "scheduled"


async def test_an_emergency_change_overrides_a_freeze_with_a_reason(settings, svc, http):
    change = await ok(http, svc, await _emergency(http, svc), "approve", "bob-token")
    status, refused = await act(http, svc, change, "schedule", json=window(FROZEN))
    assert status == 409 and refused["error"]["code"] == "change_freeze"
    body = window(FROZEN) | {"override_reason": "zero-day in the ERP web tier"}
    change = await ok(http, svc, change, "schedule", json=body)
    assert change["state"] == "scheduled" and change["planned_start"] == iso(FROZEN)
    [override] = change["overrides"]
    assert (override["kind"], override["reason"], override["by"]) == (
        "change_freeze",
        "zero-day in the ERP web tier",
        "alice",
    )
    assert change["timeline"][-1]["comment"] == "overrode change_freeze: zero-day in the ERP web tier"
    events = await change_events(settings, 5)
    assert events[-1].short_type == "change.scheduled" and events[-1].data["comment"].startswith("overrode")


async def test_a_freeze_refusal_also_lists_the_conflicts_one_reason_would_override(svc, http):
    first = await ok(http, svc, await _emergency(http, svc), "approve", "bob-token")
    first = await ok(http, svc, first, "schedule", json=window(FROZEN) | {"override_reason": "zero-day"})
    second = await ok(http, svc, await _emergency(http, svc), "approve", "bob-token")
    status, refused = await act(http, svc, second, "schedule", json=window(FROZEN + H / 2))
    assert (status, refused["error"]["code"]) == (409, "change_freeze")
    details = refused["error"]["details"]
    assert [d.get("freeze") or d["kind"] for d in details] == ["year-end", "ci_overlap"]
    assert details[1]["number"] == first["number"] and "also conflicts (1)" in refused["error"]["message"]
    second = await ok(http, svc, second, "schedule", json=window(FROZEN + H / 2) | {"override_reason": "same outage"})
    assert [o["kind"] for o in second["overrides"]] == ["change_freeze", "schedule_conflict"]


async def _emergency(http, svc):
    status, change = await call(
        http, "POST", f"{svc.url}/v1/changes", json={"tenant": "acme", "change_type": "emergency", "ci": "erp-db"}
    )
    assert status == 422  # a title is required
    status, change = await call(
        http,
        "POST",
        f"{svc.url}/v1/changes",
        json={"tenant": "acme", "change_type": "emergency", "ci": "erp-db", "title": "Hotfix"},
    )
    assert status == 201
    return await ok(http, svc, change, "submit")


async def test_overlapping_change_on_the_same_ci_blocks_unless_overridden(svc, http):
    first = await scheduled(http, svc, **window(SAT))
    second = await approved(http, svc, ci=None, cis=["office-wifi", "erp-db"], **window(SAT + H / 2))
    status, refused = await act(http, svc, second, "schedule")
    assert status == 409 and refused["error"]["code"] == "schedule_conflict"
    [conflict] = refused["error"]["details"]
    assert (conflict["kind"], conflict["ci"], conflict["number"], conflict["change_id"]) == (
        "ci_overlap",
        "erp-db",
        first["number"],
        first["id"],
    )
    assert (await get(http, svc, second["id"]))["state"] == "approved"
    later = await ok(http, svc, second, "schedule", json=window(SAT + H))  # back to back is no overlap
    assert later["state"] == "scheduled"
    third = await approved(http, svc, **window(SAT))
    third = await ok(http, svc, third, "schedule", json={"override_reason": "one outage for both"})
    assert third["overrides"][0]["kind"] == "schedule_conflict"
    assert third["overrides"][0]["details"][0]["number"] == first["number"]


async def test_window_outside_the_cis_maintenance_window_is_a_conflict(svc, http):
    change = await approved(http, svc, ci="core-router", **window(SAT + 3 * H, hours=2))  # past 05:00 London
    status, refused = await act(http, svc, change, "schedule")
    assert status == 409 and refused["error"]["details"] == [
        {
            "kind": "outside_maintenance_window",
            "message": "the window is outside core-router's maintenance windows",
            "ci": "core-router",
        }
    ]
    change = await ok(http, svc, change, "schedule", json=window(SAT + H, hours=2))  # 02:00-04:00 London
    assert change["state"] == "scheduled"


async def test_the_same_implementer_cannot_be_double_booked(svc, http):
    first = await scheduled(http, svc, implementer="eve", **window(SAT))
    other = await approved(http, svc, ci="office-wifi", implementer="eve", **window(SAT + H / 2))
    status, refused = await act(http, svc, other, "schedule")
    assert status == 409
    [conflict] = refused["error"]["details"]
    assert (conflict["kind"], conflict["number"]) == ("implementer_double_booked", first["number"])
    assert "eve" in conflict["message"]
    moved = await ok(http, svc, other, "schedule", json={"implementer": "sam"})  # someone else does it
    assert (moved["state"], moved["implementer"]) == ("scheduled", "sam")


async def test_bad_windows_are_refused_and_change_nothing(svc, http):
    change = await approved(http, svc)
    status, body = await act(http, svc, change, "schedule")  # no window at all
    assert status == 422 and body["error"]["details"][0]["field"] == "planned_start"
    bad = {"planned_start": iso(SAT), "planned_end": iso(SAT - H)}
    assert (await act(http, svc, change, "schedule", json=bad))[0] == 422
    past = {"planned_start": "2020-01-01T00:00:00Z", "planned_end": "2020-01-01T01:00:00Z"}
    assert (await act(http, svc, change, "schedule", json=past))[0] == 422
    naive = {"planned_start": "2030-06-01T00:00:00", "planned_end": "2030-06-01T01:00:00"}
    status, body = await act(http, svc, change, "schedule", json=naive)  # a time without a zone is ambiguous
    assert status == 422 and body["error"]["details"][0]["field"] == "planned_start"
    assert (await get(http, svc, change["id"]))["state"] == "approved"


async def test_calendar_lists_the_tenants_changes_and_freezes_in_a_range(svc, http):
    june = await scheduled(http, svc, **window(SAT))
    december = await approved(http, svc, **window(FROZEN))
    await create(http, svc, tenant="globex", ci="crm", **window(SAT))  # another tenant
    url = f"{svc.url}/v1/changes/calendar"
    params = {"tenant": "acme", "from": "2030-05-01", "to": "2031-01-01"}
    status, cal = await call(http, "GET", url, "acme-viewer-token", params=params)
    assert status == 200, cal
    assert [(i["kind"], i["number"], i["state"]) for i in cal["items"]] == [
        ("managed", june["number"], "scheduled"),
        ("managed", december["number"], "approved"),
    ]
    assert cal["items"][0]["start"] == iso(SAT) and cal["items"][0]["end"] == iso(SAT + H)
    assert [f["name"] for f in cal["freezes"]] == ["year-end"]
    status, cal = await call(http, "GET", url, params=params | {"to": "2030-07-01"})
    assert [i["number"] for i in cal["items"]] == [june["number"]] and cal["freezes"] == []
    status, _ = await call(http, "GET", url, "globex-viewer-token", params=params)
    assert status == 404  # another tenant's calendar does not exist for a client token
    status, body = await call(http, "GET", url, params={"from": "June", "to": "2030-01-01", "colour": "red"})
    assert status == 400 and {d["field"] for d in body["error"]["details"]} == {"from", "colour"}
    status, body = await call(http, "GET", url, params={"from": "2030-02-01", "to": "2030-01-01"})
    assert status == 400 and body["error"]["details"][0]["field"] == "to"


async def test_the_calendar_shows_work_going_on_now_even_when_planned_for_later(svc, http):
    """Started early with a reason, a 2030 change is being implemented today: today's calendar lists it."""
    change = await scheduled(http, svc, **window(SAT))
    change = await ok(http, svc, change, "start", "eng-token", json={"override_reason": "router failing now"})
    url = f"{svc.url}/v1/changes/calendar"
    _, cal = await call(http, "GET", url, params={"tenant": "acme"})  # from today, 31 days
    [item] = cal["items"]
    assert (item["number"], item["state"], item["start"]) == (change["number"], "implementing", iso(SAT))
    assert item["started_at"] == change["started_at"]  # planned window in start/end, the work in started_at
    _, cal = await call(http, "GET", url, params={"tenant": "acme", "from": "2029-01-01", "to": "2029-02-01"})
    assert cal["items"] == []


async def test_two_conflicting_changes_scheduled_at_once_do_not_both_get_the_slot(svc, http):
    first, second = await approved(http, svc, **window(SAT)), await approved(http, svc, **window(SAT + 5 * H))
    moved = {"json": window(SAT + 10 * H)}  # both move into the same new slot at the same moment
    results = await asyncio.gather(
        act(http, svc, first, "schedule", **moved), act(http, svc, second, "schedule", **moved)
    )
    assert sorted(status for status, _ in results) == [200, 409]
