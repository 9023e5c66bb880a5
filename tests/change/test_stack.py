"""Across services on real NATS + PostgreSQL: a monitoring alert becomes an incident in triage, and change
links it to the change just implemented on that CI; reporting records the link in its ledger."""

from __future__ import annotations

from tests.change.client import SAT, ok, scheduled, window
from tests.conftest import auth, eventually


async def test_an_alert_after_a_change_becomes_an_incident_linked_to_it(settings, start, http):
    svc = {name: await start(name, settings) for name in ("intake", "triage", "change", "reporting")}
    change = await scheduled(http, svc["change"], **window(SAT))
    change = await ok(
        http, svc["change"], change, "start", "eng-token", json={"override_reason": "test: ahead of its planned window"}
    )
    change = await ok(http, svc["change"], change, "complete", "eng-token")
    alert = {"summary": "ERP DB down", "severity": "critical", "service": "erp-db", "dedup_key": "erp-down"}
    async with http.post(
        f"{svc['intake'].url}/v1/webhooks/generic", json=alert, headers={"X-Tierline-Key": "acme-key"}
    ) as r:
        assert r.status == 202

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
