"""Real-shaped deliveries from each tool, through HTTP into intake and triage: the right incidents change."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime

import pagerduty
import trustme

from tests.conftest import auth, eventually
from tests.intake.wire import fixture, post, stored

AM = {"Authorization": "Bearer acme-key"}


async def incidents(http, triage, tenant: str) -> dict[str, dict]:
    async with http.get(f"{triage.url}/v1/incidents?tenant={tenant}", headers=auth("admin-token")) as r:
        assert r.status == 200
        return {i["dedup_key"]: i for i in (await r.json())["items"]}


async def until(http, triage, tenant, check):
    async def probe():
        found = await incidents(http, triage, tenant)
        return found if check(found) else None

    return await eventually(probe)


async def test_alertmanager_firing_then_resolved(settings, start, http):
    intake, triage = await start("intake", settings), await start("triage", settings)
    url = f"{intake.url}/v1/webhooks/alertmanager"
    assert (await post(http, url, fixture("alertmanager_firing.json"), AM))[0] == 202
    found = await until(http, triage, "acme", lambda f: len(f) == 3)
    db = found["5b0a6c4e3f2d1a90"]
    assert (db["priority"], db["ci"], db["state"], db["source"]) == ("P1", "erp-db", "new", "alertmanager")
    assert found["9d8c7b6a5f4e3d21"]["priority"] == "P4"  # undeclared CI: medium impact x warning

    assert (await post(http, url, fixture("alertmanager_resolved.json"), AM))[0] == 202
    found = await until(http, triage, "acme", lambda f: f["5b0a6c4e3f2d1a90"]["state"] == "resolved")
    assert [found[k]["state"] for k in ("7c1e2d3f4a5b6c70", "9d8c7b6a5f4e3d21")] == ["new", "new"]


async def test_grafana_contact_point_opens_an_incident(settings, start, http):
    intake, triage = await start("intake", settings), await start("triage", settings)
    body = fixture("grafana_firing.json")
    status, _, _ = await post(http, f"{intake.url}/v1/webhooks/grafana", body, {"Authorization": "Bearer globex-key"})
    assert status == 202
    found = await until(http, triage, "globex", lambda f: "a1b2c3d4e5f60718" in f)
    incident = found["a1b2c3d4e5f60718"]
    assert (incident["title"], incident["ci"], incident["number"]) == (
        "p95 latency on the shop above 2 s", "crm", "GLOBEX-1",
    )  # fmt: skip


async def test_pagerduty_client_library_triggers_acknowledges_resolves(settings, start, http, tmp_path):
    """The python-pagerduty client from PyPI, with only its base URL changed, drives an incident's life.

    That client refuses plain http, so intake serves HTTPS here (TIERLINE_TLS_CERT_FILE / _KEY_FILE) with a
    certificate from a throwaway CA the client is told to trust.
    """
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "intake.pem"))
    tls = settings.model_copy(
        update={"tls_cert_file": tmp_path / "intake.pem", "tls_key_file": tmp_path / "intake.pem"}
    )
    intake, triage = await start("intake", tls), await start("triage", settings)
    assert intake.url.startswith("https://")
    trust = ssl.create_default_context()
    ca.configure_trust(trust)
    client = pagerduty.EventsApiV2Client("acme-key", base_url=intake.url, verify=trust)

    dedup = await asyncio.to_thread(
        client.trigger, "Replication lag on erp-db-02", "erp-db", dedup_key="pd-lag", severity="critical",
        custom_details={"service": "erp-db"},
    )  # fmt: skip
    assert dedup == "pd-lag"  # the client read our answer as PagerDuty's
    found = await until(http, triage, "acme", lambda f: "pd-lag" in f)
    assert (found["pd-lag"]["priority"], found["pd-lag"]["source"]) == ("P1", "pagerduty")

    assert await asyncio.to_thread(client.acknowledge, "pd-lag") == "pd-lag"
    await until(http, triage, "acme", lambda f: f["pd-lag"]["state"] == "acknowledged")
    await asyncio.to_thread(client.resolve, "pd-lag")
    found = await until(http, triage, "acme", lambda f: f["pd-lag"]["state"] == "resolved")

    generated = await asyncio.to_thread(client.trigger, "Backup job failed", "backup-01", severity="warning")
    assert len(generated) == 32  # a trigger without a dedup key gets one back, as from PagerDuty
    await until(http, triage, "acme", lambda f: generated in f)
    # A change event through the same client is accepted too (the change service records it).
    await asyncio.to_thread(client.submit, "Deployed erp-api 4.12.0", source="erp-db", timestamp="2026-11-28T05:03:00Z")


async def test_repeat_after_retry_window_counts_but_retry_does_not(settings, start, http):
    """A retry (same content) is one event; a later notification that says something new is a repeat."""
    intake, triage = await start("intake", settings), await start("triage", settings)
    url = f"{intake.url}/v1/webhooks/alertmanager"
    first = fixture("alertmanager_resolved.json")
    first["status"] = first["alerts"][0]["status"] = "firing"
    for _ in range(3):
        assert (await post(http, url, first, AM))[0] == 202
    worse = {**first, "alerts": [{**first["alerts"][0], "annotations": {"summary": "now 99% full"}}]}
    assert (await post(http, url, worse, AM))[0] == 202
    found = await until(http, triage, "acme", lambda f: f.get("5b0a6c4e3f2d1a90", {}).get("occurrences") == 2)
    assert len(found) == 1


async def test_times_without_an_offset_are_read_as_utc_in_every_format(settings, start, http):
    """A tool that sends 2026-11-28T04:58:30 (no Z) got a 500 from the generic webhook once: the naive time
    failed its first comparison with an aware one. Every format now reads such a time as UTC."""
    intake, triage = await start("intake", settings), await start("triage", settings)
    naive = "2026-11-28T04:58:30"
    am = fixture("alertmanager_firing.json")
    am["alerts"] = am["alerts"][:1]
    am["alerts"][0]["startsAt"] = naive
    pd = {"routing_key": "acme-key", "event_action": "trigger", "dedup_key": "pd-naive",
          "payload": {"summary": "Disk full", "source": "erp-db", "severity": "error", "timestamp": naive}}  # fmt: skip
    generic = {"summary": "Disk full", "service": "erp-db", "dedup_key": "gen-naive", "started_at": naive}
    for path, body, headers in (
        ("/v1/webhooks/alertmanager", am, AM),
        ("/v2/enqueue", pd, {}),
        ("/v1/webhooks/generic", generic, {"X-Tierline-Key": "acme-key"}),
    ):
        status, answer, _ = await post(http, f"{intake.url}{path}", body, headers)
        assert status == 202, (path, answer)
    found = await until(http, triage, "acme", lambda f: len(f) == 3)
    utc = datetime(2026, 11, 28, 4, 58, 30, tzinfo=UTC)
    assert {datetime.fromisoformat(i["detected_at"]) for i in found.values()} == {utc}
    started = {datetime.fromisoformat(e["data"]["started_at"]) for e in await stored(settings, "alert.received")}
    assert started == {utc}
