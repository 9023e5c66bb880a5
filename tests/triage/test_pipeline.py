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
    assert (await post_alert(http, intake, body))[0] == 202

    async def two_occurrences():
        items = await incidents(http, triage)
        return items if items and items[0]["occurrences"] == 2 else None

    items = await eventually(two_occurrences)
    assert len(items) == 1
    inc = items[0]
    assert inc["number"] == "ACME-1"
    assert inc["priority"] == "P1"  # critical CI x critical severity
    assert inc["tier"] == 1 and inc["state"] == "new" and inc["category"] == "infrastructure"
