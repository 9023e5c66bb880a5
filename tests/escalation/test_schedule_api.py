"""The schedule API's refusals: who may add overrides, tenant walls, bad bodies and queries each answered with a
clear error that changes nothing; and what the views show."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from libs.events import utcnow
from libs.testing import stream_envelopes
from tests.escalation.oncall import api


@pytest.fixture
async def esc(settings, start):
    return await start("escalation", settings)


def window(**shift: float) -> dict:
    now = utcnow()
    return {"user": "oscar", "start": (now + timedelta(hours=shift.get("start", 0))).isoformat(),
            "end": (now + timedelta(hours=shift.get("end", 2))).isoformat()}  # fmt: skip


BAD_BODIES = [
    (window() | {"user": "nobody"}, "unknown_user", "user"),
    (window() | {"user": "dana"}, "unknown_user", "user"),  # Acme's contact, on a provider schedule
    (window(start=2, end=1), "end_before_start", "end"),
    (window(start=-3, end=-1), "in_the_past", "end"),
    (window(end=24 * 70), "too_long", "end"),
    (window() | {"start": "2030-01-01T10:00:00"}, "timezone_aware", "start"),  # no offset
    (window() | {"shift": "night"}, "extra_forbidden", "shift"),
    ({"user": "oscar"}, "missing", "start"),
]


@pytest.mark.parametrize(("body", "kind", "field"), BAD_BODIES)
async def test_a_bad_override_is_a_422_that_changes_nothing(settings, esc, http, body, kind, field):
    status, answer = await api(http, "POST", f"{esc.url}/v1/schedules/noc/overrides", "manager-token", body)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_failed"
    assert any(d.get("type") == kind and field in str(d.get("field", d.get("loc"))) for d in answer["error"]["details"])
    assert (await api(http, "GET", f"{esc.url}/v1/schedules/noc/overrides", "manager-token"))[1]["items"] == []
    assert await stream_envelopes(settings, "schedule.") == []


async def test_who_may_touch_overrides_and_the_walls(esc, http):
    url = f"{esc.url}/v1/schedules/noc/overrides"
    status, answer = await api(http, "POST", url, "eng-token", window())
    assert status == 403 and "manager" in answer["error"]["details"][0]["allowed_roles"]
    assert (await api(http, "POST", url, "acme-viewer-token", window()))[0] == 404  # not there at all
    dba = f"{esc.url}/v1/schedules/acme-dba/overrides"
    assert (await api(http, "POST", dba, "globex-viewer-token", window() | {"user": "dana"}))[0] == 404
    assert (await api(http, "GET", f"{esc.url}/v1/schedules/nope", "admin-token"))[0] == 404
    assert (await api(http, "GET", f"{esc.url}/v1/schedules", "no-such-token"))[0] == 401
    status, made = await api(http, "POST", dba, "manager-token", window() | {"user": "dana"})
    assert status == 201 and made["created_by"] == "max"
    gone = f"{dba}/{made['id']}"
    assert (await api(http, "DELETE", gone, "eng-token"))[0] == 403
    assert (await api(http, "DELETE", gone, "manager-token"))[0] == 200
    assert (await api(http, "DELETE", gone, "manager-token"))[0] == 404  # once
    assert (await api(http, "DELETE", f"{dba}/not-a-uuid", "manager-token"))[0] == 404


QUERIES = [
    ("shifts?from=2026-06-10&to=2026-06-01", "to"),
    ("shifts?from=2026-01-01&to=2026-06-01", "to"),  # longer than 93 days
    ("shifts?from=yesterday", "from"),
    ("shifts?tenant=acme", "tenant"),
    ("oncall?at=soon", "at"),
    ("oncall?when=now", "when"),
]


@pytest.mark.parametrize(("query", "field"), QUERIES)
async def test_a_bad_query_is_a_400_naming_the_field(esc, http, query, field):
    status, answer = await api(http, "GET", f"{esc.url}/v1/schedules/noc/{query}", "eng-token")
    assert status == 400 and answer["error"]["code"] == "invalid_query"
    assert field in {d["field"] for d in answer["error"]["details"]}


async def test_the_views(esc, http):
    _, listing = await api(http, "GET", f"{esc.url}/v1/schedules?at=2026-06-06T12:00:00Z", "eng-token")
    assert [(i["id"], i["tenant"], i["on_call"]["user"]) for i in listing["items"]] == [
        ("noc", None, "wendy"), ("acme-dba", "acme", "dana"),  # a Saturday: the weekend layer
    ]  # fmt: skip
    _, mine = await api(http, "GET", f"{esc.url}/v1/schedules", "acme-viewer-token")
    assert [i["id"] for i in mine["items"]] == ["acme-dba"]
    _, at = await api(http, "GET", f"{esc.url}/v1/schedules/noc/oncall?at=2026-06-08T07:00:00Z", "eng-token")
    # Monday 08:00 London: still the week's first turn until the 09:00 handoff.
    assert (at["on_call"]["user"], at["on_call"]["layer"], t(at["next_handoff_at"])) == (
        "oscar", "weekly", t("2026-06-08T08:00:00Z"),
    )  # fmt: skip
    _, week = await api(http, "GET", f"{esc.url}/v1/schedules/noc/shifts?from=2026-06-06&to=2026-06-09", "eng-token")
    assert [(s["user"], t(s["start"]), t(s["end"])) for s in week["shifts"]] == [
        ("wendy", t("2026-06-06T00:00:00Z"), t("2026-06-07T23:00:00Z")),  # the weekend, 00:00 London (BST)
        ("oscar", t("2026-06-07T23:00:00Z"), t("2026-06-08T08:00:00Z")),
        ("eve", t("2026-06-08T08:00:00Z"), t("2026-06-09T00:00:00Z")),
    ]
    async with http.get(f"{esc.url}/v1/schedules/noc.ics") as r:
        assert r.status == 404  # no token: as if there were no feed
    async with http.get(f"{esc.url}/v1/ack/{'x' * 300}") as r:
        assert r.status == 404 and r.headers["Content-Type"].startswith("text/html")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)
