"""Alerts posted to intake become incidents in triage (real NATS, real PostgreSQL)."""

from __future__ import annotations

from tests.conftest import auth, eventually


async def post_alert(http, intake, body, key="acme-key"):
    async with http.post(f"{intake.url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": key}) as r:
        return r.status, await r.json()


async def incidents(http, triage, token="admin-token", **query):
    async with http.get(f"{triage.url}/v1/incidents", params=query, headers=auth(token)) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["items"]


async def test_alert_opens_incident_and_repeat_updates_it(settings, start, http):
    intake = await start("intake", settings)
    triage = await start("triage", settings)
    body = {"summary": "ERP DB down", "severity": "critical", "service": "erp-db", "dedup_key": "erp-1"}
    assert (await post_alert(http, intake, body))[0] == 202
    assert (await post_alert(http, intake, body | {"labels": {"check": "2"}}))[0] == 202  # a repeat, not a retry

    async def two_occurrences():
        items = await incidents(http, triage)
        return items if items and items[0]["occurrences"] == 2 else None

    items = await eventually(two_occurrences)
    assert len(items) == 1
    inc = items[0]
    assert inc["number"] == "ACME-1"
    assert inc["priority"] == "P1"  # critical CI x critical severity
    assert inc["tier"] == 1 and inc["state"] == "new" and inc["category"] == "infrastructure"


async def test_incident_detail_lists_every_alert_and_a_timeline_of_changes(settings, start, http):
    intake = await start("intake", settings)
    triage = await start("triage", settings)
    body = {"summary": "Core switch flapping", "severity": "warning", "service": "office-wifi", "dedup_key": "sw"}
    for n, status in enumerate(("firing", "firing", "resolved")):
        assert (await post_alert(http, intake, body | {"status": status, "labels": {"n": str(n)}}))[0] == 202

    async def resolved():
        items = await incidents(http, triage, state="resolved")
        return items and items[0]

    incident = await eventually(resolved)
    assert incident["priority"] == "P5"  # low-criticality CI x warning
    async with http.get(f"{triage.url}/v1/incidents/{incident['number']}", headers=auth("eng-token")) as r:
        detail = await r.json()
    assert [a["effect"] for a in detail["alerts"]] == ["opened", "alert_added", "resolved"]
    assert [t["kind"] for t in detail["timeline"]] == ["opened", "resolved"]
    assert detail["occurrences"] == 2
    # Acknowledging a resolved incident is refused with the moves that are allowed.
    async with http.post(f"{triage.url}/v1/incidents/{incident['id']}/acknowledge", headers=auth("eng-token")) as r:
        assert r.status == 409
        err = (await r.json())["error"]
    assert err["code"] == "illegal_transition" and err["details"] == [{"allowed": ["close", "reopen"]}]


async def test_list_filters_pagination_and_bad_queries(settings, start, http):
    intake = await start("intake", settings)
    triage = await start("triage", settings)
    for n in range(5):
        sev = "critical" if n < 2 else "info"
        assert (await post_alert(http, intake, {"summary": f"a{n}", "severity": sev, "service": "erp-db"}))[0] == 202

    async def five():
        return len(await incidents(http, triage)) == 5

    await eventually(five)
    assert len(await incidents(http, triage, priority="P1")) == 2  # critical CI x critical
    assert len(await incidents(http, triage, priority="P3")) == 3  # critical CI x info
    assert len(await incidents(http, triage, tier="2")) == 0
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        async with http.get(f"{triage.url}/v1/incidents", params=params, headers=auth("admin-token")) as r:
            page = await r.json()
        seen += [i["number"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"ACME-{n}" for n in range(1, 6)]  # every incident once across pages
    bad = {"state": "opened", "priority": "P9", "tier": "7", "limit": "0", "tennant": "acme"}  # open is a state set
    async with http.get(f"{triage.url}/v1/incidents", params=bad, headers=auth("admin-token")) as r:
        assert r.status == 400
        err = (await r.json())["error"]
    assert err["code"] == "invalid_query" and {d["field"] for d in err["details"]} == set(bad)
    async with http.get(f"{triage.url}/v1/incidents", params={"tenant": "nope"}, headers=auth("admin-token")) as r:
        assert r.status == 400 and (await r.json())["error"]["details"][0]["field"] == "tenant"
    # A client token learns nothing about other tenants: unknown and not-yours answer alike.
    for other in ("nope", "globex"):
        async with http.get(
            f"{triage.url}/v1/incidents", params={"tenant": other}, headers=auth("acme-viewer-token")
        ) as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
    async with http.get(f"{triage.url}/v1/incidents", params={"cursor": "garbage"}, headers=auth("admin-token")) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_cursor"
    async with http.get(f"{triage.url}/v1/incidents") as r:
        assert r.status == 401
