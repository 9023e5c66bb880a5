"""Across services on real NATS + PostgreSQL: a monitoring alert becomes an incident in triage, and change
links it to the change just implemented on that CI; reporting records the link in its ledger."""

from __future__ import annotations

from datetime import timedelta

from libs.events import utcnow
from libs.testing import consumer_caught_up, outboxes_drained, stream_envelopes
from tests.change.client import SAT, ok, scheduled, window
from tests.change.test_windows import soon
from tests.conftest import auth, eventually
from tests.triage.stack import alert as send_alert


async def test_an_alert_after_a_change_becomes_an_incident_linked_to_it(settings, start, http):
    svc = {name: await start(name, settings) for name in ("intake", "triage", "change", "reporting")}
    change = await scheduled(http, svc["change"], **window(SAT))
    change = await ok(
        http, svc["change"], change, "start", "eng-token", json={"override_reason": "test: ahead of its planned window"}
    )
    change = await ok(http, svc["change"], change, "complete", "eng-token")
    # The alert comes once triage knows the window ended: one a moment earlier is still expected (suppressed).
    assert await outboxes_drained(settings) and await consumer_caught_up(settings, "triage")
    alert = {"summary": "ERP DB down", "severity": "critical", "service": "erp-db", "dedup_key": "erp-down"}
    await send_alert(http, svc["intake"], **alert)

    async def linked() -> dict | None:
        async with http.get(f"{svc['change'].url}/v1/changes/{change['id']}", headers=auth("admin-token")) as r:
            body = await r.json()
        return body if body["incidents"] else None

    change = await eventually(linked)
    [link] = change["incidents"]
    assert (link["incident_number"], link["priority"], link["ci"]) == ("ACME-1", "P1", "erp-db")
    assert change["outcome"] == "failed"

    async def in_ledger() -> list:
        url = f"{svc['reporting'].url}/v1/ledger/acme?limit=100"
        async with http.get(url, headers=auth("admin-token")) as r:
            return [e for e in (await r.json())["items"] if e["type"] == "change.incident_linked"]

    [entry] = await eventually(in_ledger)
    assert (entry["subject"], entry["data"]["outcome"], entry["data"]["counts_as_failed"]) == (
        change["id"],
        "failed",
        True,
    )

    # Whoever works the incident sees the suspected change on it, and a reviewer clearing it.
    async def incident() -> dict:
        async with http.get(f"{svc['triage'].url}/v1/incidents/ACME-1", headers=auth("admin-token")) as r:
            return await r.json()

    async def suspected() -> dict | None:
        found = await incident()
        return found if found["changes"] == [change["number"]] else None

    found = await eventually(suspected)
    [step] = [t for t in found["timeline"] if t["kind"] == "change_suspected"]
    assert step["detail"] == {"change": change["number"], "change_type": "normal", "counts_as_failed": True}
    url = f"{svc['change'].url}/v1/changes/{change['id']}/incidents/ACME-1/clear"
    async with http.post(url, json={"reason": "the ERP outage was a disk failure"}, headers=auth("admin-token")) as r:
        assert r.status == 200, await r.text()

    async def cleared() -> list:
        return [t for t in (await incident())["timeline"] if t["kind"] == "change_cleared"]

    [step] = await eventually(cleared)
    assert step["detail"] == {"change": change["number"], "reason": "the ERP outage was a disk failure"}


async def test_a_deploy_a_tool_reported_shows_on_the_incident_that_followed_it(settings, start, http):
    """A deploy tool's PagerDuty change event, then the ERP database down minutes later: the on-call engineer
    sees the deploy on the incident's timeline, and the change calendar shows the deploy was followed by it."""
    svc = {name: await start(name, settings) for name in ("intake", "triage", "change")}
    deployed = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    deploy = {"routing_key": "acme-key", "payload": {"summary": "Deployed erp-api 4.12.0", "source": "erp-db",
              "timestamp": deployed.isoformat(), "custom_details": {"build": "1184"}}}  # fmt: skip
    async with http.post(f"{svc['intake'].url}/v2/change/enqueue", json=deploy) as r:
        assert r.status == 202

    async def on_calendar() -> list:
        async with http.get(f"{svc['change'].url}/v1/changes/calendar", headers=auth("admin-token")) as r:
            return [i for i in (await r.json())["items"] if i["kind"] == "unmanaged"]

    await eventually(on_calendar)  # recorded before the incident opens
    alert = {"summary": "ERP DB down", "severity": "critical", "service": "erp-db", "dedup_key": "erp-down"}
    await send_alert(http, svc["intake"], **alert)

    async def suspected() -> list:
        async with http.get(f"{svc['triage'].url}/v1/incidents/ACME-1", headers=auth("admin-token")) as r:
            body = await r.json()
        return [t for t in body.get("timeline", []) if t["kind"] == "unmanaged_change_suspected"]

    [step] = await eventually(suspected)
    assert step["detail"]["summary"] == "Deployed erp-api 4.12.0" and step["detail"]["source"] == "erp-db"
    assert step["detail"]["changed_at"] == deployed.isoformat()
    [item] = await on_calendar()
    assert [i["incident_number"] for i in item["incidents"]] == ["ACME-1"]


async def test_work_started_early_holds_back_alerts_from_when_it_started(settings, start, http):
    """Started 30 minutes before its planned window (inside changes.early_start): the CI is under change from
    now, so an alert on it is expected, not a page."""
    svc = {name: await start(name, settings) for name in ("intake", "triage", "change")}
    change = await soon(http, svc["change"], starts_in=1800, lasts=3600)  # a standard change on office-wifi
    change = await ok(http, svc["change"], change, "start", "eng-token")
    assert change["overrides"] == []  # inside the hour: no reason needed
    await eventually(lambda: stream_envelopes(settings, "change.window_started"))
    alert = {"summary": "Wi-Fi controller rebooting", "severity": "critical", "service": "office-wifi"}
    await send_alert(http, svc["intake"], **alert)

    async def suppressed() -> list:
        async with http.get(f"{svc['triage'].url}/v1/alerts/suppressed?tenant=acme", headers=auth("admin-token")) as r:
            return (await r.json())["items"]

    [held] = await eventually(suppressed)
    assert change["number"] in held["note"]
    async with http.get(f"{svc['triage'].url}/v1/incidents?tenant=acme", headers=auth("admin-token")) as r:
        assert (await r.json())["items"] == []
