"""The incident list's orders on the running stack: opened (the default), number, priority and SLA due time,
each with the number as a stable tiebreak and a cursor that pages through it."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.triage.stack import KEYS, act, call, incidents, processed


@pytest.fixture
async def stack(tsettings, start):
    return await start("intake", tsettings), await start("triage", tsettings)


def notification(n: int) -> dict:
    """One Alertmanager notification of `n` alerts: they arrive (and open) at one instant."""
    alerts = [
        {"status": "firing", "labels": {"alertname": "NodeDown", "instance": f"node-{k}", "severity": "warning"},
         "annotations": {"summary": f"node-{k} down"}, "startsAt": "2026-11-30T10:00:00Z",
         "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": f"f{k:015d}"}
        for k in range(n)
    ]  # fmt: skip
    return {"version": "4", "groupKey": "g", "truncatedAlerts": 0, "status": "firing", "receiver": "tierline",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
            "alerts": alerts}  # fmt: skip


async def pages(http, triage, **query: str) -> list[str]:
    """Every number in the list's order, read page by page through next_cursor."""
    numbers, cursor = [], None
    while True:
        status, body = await call(http, "GET", f"{triage.url}/v1/incidents", **query, **({"cursor": cursor} if cursor
                                                                                           else {}))  # fmt: skip
        assert status == 200, body
        numbers += [i["number"] for i in body["items"]]
        if (cursor := body["next_cursor"]) is None:
            return numbers


async def test_incidents_opened_together_list_by_number_and_page_through_every_sort(stack, http):
    intake, triage = stack
    headers = {"Authorization": f"Bearer {KEYS['acme']}"}
    async with http.post(f"{intake.url}/v1/webhooks/alertmanager", json=notification(6), headers=headers) as r:
        assert r.status == 202
    items = await processed(http, triage, 6)
    assert len({i["opened_at"] for i in items}) == 1  # one notification, one instant
    newest_first = [f"ACME-{n}" for n in range(6, 0, -1)]
    assert [i["number"] for i in items] == newest_first  # the default: opened, newest first, then by number
    assert await pages(http, triage, limit="4") == newest_first
    assert await pages(http, triage, sort="number", limit="4") == newest_first[::-1]
    # Ten sorts after nine: the number's numeric part orders, not its text.
    for _ in range(5):
        status, _ = await call(
            http, "POST", f"{triage.url}/v1/incidents", "eng-token", {"tenant": "acme", "title": "x"}
        )
        assert status == 201
    assert (await pages(http, triage, sort="number", limit="3"))[-3:] == ["ACME-9", "ACME-10", "ACME-11"]


async def test_priority_first_then_the_number_and_bad_sorts_are_refused(stack, http):
    _, triage = stack
    for ci, severity in [("office-wifi", "info"), ("erp-db", "critical"), (None, "error"), ("erp-db", "critical")]:
        body = {"tenant": "acme", "title": "x", "severity": severity} | ({"ci": ci} if ci else {})
        assert (await call(http, "POST", f"{triage.url}/v1/incidents", "eng-token", body))[0] == 201
    by_priority = [(i["number"], i["priority"]) for i in await incidents(http, triage, sort="priority")]
    assert by_priority == [("ACME-2", "P1"), ("ACME-4", "P1"), ("ACME-3", "P3"), ("ACME-1", "P5")]
    assert await pages(http, triage, sort="priority", limit="1") == [n for n, _ in by_priority]
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", sort="severity")
    assert (status, body["error"]["code"], body["error"]["details"][0]["field"]) == (400, "invalid_query", "sort")
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", sort="number", limit="1")
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", sort="priority", cursor=body["next_cursor"])
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")  # a cursor belongs to its sort
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", cursor="bm9wZQ==")
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


async def test_due_sorts_by_the_deadline_that_matters_now(stack, start, http, tsettings):
    """With escalation's real clocks: the response deadline while unacknowledged, then the resolution one;
    a paused clock has none and lists last."""
    _, triage = stack
    await start("escalation", tsettings)
    # acme's targets: P1 respond 15m / resolve 4h; P3 2h / 1d; P5 1d / 5d.
    for ci, severity in [("erp-db", "warning"), ("erp-db", "critical"), ("office-wifi", "info")]:
        body = {"tenant": "acme", "title": "x", "ci": ci, "severity": severity}
        assert (await call(http, "POST", f"{triage.url}/v1/incidents", "eng-token", body))[0] == 201

    async def due(*numbers: str, **want: object) -> list[dict]:
        async def check():
            items = await incidents(http, triage, sort="due")
            got = {i["number"]: i for i in items}
            ok = all(all(got[n]["sla"].get(c, {}).get("state") == s for c, s in want.items()) for n in numbers)
            return items if ok and all(i["sla"] for i in items) else None

        return await eventually(check)

    items = await due("ACME-1", "ACME-2", "ACME-3", response="running", resolution="running")
    assert [i["number"] for i in items] == ["ACME-2", "ACME-1", "ACME-3"]  # 15 min, 2 h, 1 d
    p1 = items[0]
    assert p1["due_at"] == p1["sla"]["response"]["due_at"]
    assert p1["sla"]["response"] == {"state": "running", "started_at": p1["opened_at"],
                                     "due_at": p1["sla"]["response"]["due_at"], "target_s": 900.0, "paused_at": None,
                                     "warned": 0, "breached_at": None, "met": None}  # fmt: skip
    assert p1["sla"]["resolution"]["target_s"] == 4 * 3600.0
    # Acknowledged, the P1's response clock stops: its resolution deadline (4 h) matters now.
    assert (await act(http, triage, "ACME-2", "acknowledge"))[0] == 200
    items = await due("ACME-2", response="stopped")
    assert [i["number"] for i in items] == ["ACME-1", "ACME-2", "ACME-3"]
    assert (items[1]["sla"]["response"]["met"], items[1]["due_at"]) == (True, items[1]["sla"]["resolution"]["due_at"])
    # On hold pending the customer, the P3's resolution clock pauses: no deadline, listed last.
    for step, body in [("acknowledge", None), ("hold", {"reason": "pending_customer"})]:
        assert (await act(http, triage, "ACME-1", step, body))[0] == 200
    items = await due("ACME-1", resolution="paused")
    assert [i["number"] for i in items] == ["ACME-2", "ACME-3", "ACME-1"]
    assert items[-1]["due_at"] is None and items[-1]["sla"]["resolution"]["paused_at"]
    assert await pages(http, triage, sort="due", limit="2") == ["ACME-2", "ACME-3", "ACME-1"]
