"""Change windows: a scheduled change's start and end are published once each, with two replicas running
and across a restart (the due rows live in PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from libs.events import utcnow
from tests.change.client import act, change_events, create, iso, ok

WIFI = {"change_type": "standard", "template": "wifi-firmware", "ci": None, "title": None}


async def soon(http, svc, *, starts_in: float = 1.0, lasts: float = 1.0) -> dict:
    """A standard change scheduled (on submit) for a window opening in `starts_in` seconds (on the same CI as
    the test's other changes, so their windows must not overlap)."""
    start = utcnow() + timedelta(seconds=starts_in)
    window = {"planned_start": iso(start), "planned_end": iso(start + timedelta(seconds=lasts))}
    return await ok(http, svc, await create(http, svc, "eng-token", **WIFI, **window), "submit", "eng-token")


async def test_window_start_and_end_are_published_once_with_two_replicas(settings, start, http):
    one, two = await start("change", settings), await start("change", settings)
    changes = [await soon(http, svc, starts_in=1 + i / 2, lasts=0.4) for i, svc in enumerate((one, two, one))]
    events = await change_events(settings, 15)  # created, submitted, scheduled, window start and end, each
    for change in changes:
        edges = [e for e in events if e.subject == change["id"] and e.short_type.startswith("change.window")]
        assert [e.short_type for e in edges] == ["change.window_started", "change.window_ended"]
        started = edges[0].data
        assert (started["number"], started["cis"], started["change_type"]) == (
            change["number"],
            ["office-wifi"],
            "standard",
        )
        assert (started["starts_at"], started["ends_at"]) == (
            change["planned_start"].replace("+00:00", "Z"),
            change["planned_end"].replace("+00:00", "Z"),
        )
        assert edges[0].tenant == "acme"


async def test_a_window_that_passed_while_the_service_was_down_fires_once_at_start(settings, start, http):
    svc = await start("change", settings)
    change = await soon(http, svc, starts_in=1.0, lasts=0.5)
    await svc.stop()
    await asyncio.sleep(2.0)  # the whole window passes while no replica runs
    await start("change", settings)
    events = await change_events(settings, 5)
    assert [e.short_type for e in events][-2:] == ["change.window_started", "change.window_ended"]
    assert {e.subject for e in events} == {change["id"]}


async def test_cancelling_a_scheduled_change_ends_its_open_window_at_once(settings, start, http):
    svc = await start("change", settings)
    future = await soon(http, svc, starts_in=7200)
    open_now = await soon(http, svc, starts_in=0.2, lasts=3600)
    for_a_while = await change_events(settings, 7)  # 3 + 3 + the second one's window start
    assert for_a_while[-1].short_type == "change.window_started" and for_a_while[-1].subject == open_now["id"]
    await ok(http, svc, open_now, "cancel", "eng-token", json={"comment": "vendor postponed"})
    await ok(http, svc, future, "cancel", "eng-token")  # its window never opened, so nothing ends
    events = await change_events(settings, 10)
    assert [(e.short_type, e.subject) for e in events[7:]] == [
        ("change.cancelled", open_now["id"]),
        ("change.window_ended", open_now["id"]),
        ("change.cancelled", future["id"]),
    ]


async def test_rescheduling_moves_the_window_until_it_has_opened(settings, start, http):
    svc = await start("change", settings)
    change = await soon(http, svc, starts_in=7200)
    start_at = utcnow() + timedelta(seconds=0.3)
    body = {"planned_start": iso(start_at), "planned_end": iso(start_at + timedelta(hours=1)), "comment": "earlier"}
    change = await ok(http, svc, change, "schedule", json=body)
    assert change["planned_start"] == iso(start_at)
    last = change["timeline"][-1]
    assert (last["from_state"], last["to_state"], last["comment"]) == ("scheduled", "scheduled", "earlier")
    events = await change_events(settings, 5)  # created, submitted, scheduled, rescheduled, window started
    assert [e.short_type for e in events[3:]] == ["change.scheduled", "change.window_started"]
    later = utcnow() + timedelta(hours=3)
    body = {"planned_start": iso(later), "planned_end": iso(later + timedelta(hours=1))}
    status, refused = await act(http, svc, change, "schedule", json=body)
    assert status == 409 and refused["error"]["code"] == "window_open"
