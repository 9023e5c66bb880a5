"""Heartbeats and control findings on the running stack (intake and triage, real NATS and PostgreSQL): a silence
past its grace opens one incident through the alert path, with two triage replicas and across a restart; the
next beat resolves it; a backup's missed RPO and a failing control do the same; GET /v1/heartbeats shows it."""

from __future__ import annotations

import asyncio

import asyncpg

from libs.testing import consumer_caught_up
from tests.conftest import eventually
from tests.intake.wire import post
from tests.triage.stack import call, detail, events

ACME = {"X-Tierline-Key": "acme-key"}


async def beat(http, intake, name: str = "acme-prometheus", body: dict | None = None) -> None:
    status, answer, _ = await post(http, f"{intake.url}/v1/heartbeats/{name}", body or {}, ACME)
    assert status == 202, answer


async def heartbeat_incidents(http, triage, name: str = "acme-prometheus") -> list[dict]:
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", tenant="acme")
    assert status == 200
    return [i for i in body["items"] if i["dedup_key"] == f"heartbeat:{name}"]


async def one_incident(http, triage, name: str = "acme-prometheus", state: str = "new") -> dict:
    async def check():
        found = await heartbeat_incidents(http, triage, name)
        return found[0] if len(found) == 1 and found[0]["state"] == state else None

    return await eventually(check, timeout=15)


async def row(settings, name: str = "acme-prometheus") -> dict:
    conn = await asyncpg.connect(settings.database_url)
    try:
        found = await conn.fetchrow("SELECT * FROM triage.heartbeats WHERE tenant = 'acme' AND name = $1", name)
        return dict(found) if found else {}
    finally:
        await conn.close()


async def listed(http, triage, token: str = "admin-token", **query: str) -> dict[str, dict]:
    status, body = await call(http, "GET", f"{triage.url}/v1/heartbeats", token, **query)
    assert status == 200, body
    return {h["name"]: h for h in body["items"]}


async def test_a_silence_opens_one_incident_even_with_two_replicas_and_the_next_beat_resolves_it(
    signal_settings, start, http
):
    intake = await start("intake", signal_settings)
    triage = await start("triage", signal_settings)
    await start("triage", signal_settings)  # a second replica, whose worker competes for the same late row
    assert (await listed(http, triage))["acme-prometheus"]["status"] == "never"  # never heard from: not late
    await beat(http, intake)
    incident = await one_incident(http, triage)  # 1 s expected + 1 s grace, then the worker notices
    assert incident["title"].startswith("no heartbeat from acme-prometheus since ")
    assert (incident["ci"], incident["priority"], incident["source"]) == ("monitoring", "P1", "heartbeat")
    # Both replicas keep looking; the row says it fired, and it fired once.
    await asyncio.sleep(1)  # ~20 more looks by each worker (timer_poll_s is 0.05 s in tests)
    late = await row(signal_settings)
    assert (late["fired"], late["due_at"], late["late_reason"]) == (1, None, "silent")
    assert str(late["incident_id"]) == incident["id"]
    assert len((await detail(http, triage, incident["number"]))["alerts"]) == 1
    opened = [e for e in await events(signal_settings, "incident.opened") if e.data["dedup_key"].startswith("heart")]
    assert len(opened) == 1
    shown = (await listed(http, triage))["acme-prometheus"]
    assert (shown["status"], shown["late_reason"], shown["incident"]["number"]) == (
        "late",
        "silent",
        incident["number"],
    )

    await beat(http, intake)
    resolved = await one_incident(http, triage, state="resolved")
    assert resolved["id"] == incident["id"]
    assert (await row(signal_settings))["late_since"] is None
    assert (await listed(http, triage))["acme-prometheus"]["incident"] is None


async def test_a_deadline_that_passed_while_triage_was_down_fires_once_at_start(signal_settings, start, http):
    intake = await start("intake", signal_settings)
    triage = await start("triage", signal_settings)
    await beat(http, intake)
    assert await consumer_caught_up(signal_settings, "triage")
    assert (await row(signal_settings))["due_at"] is not None
    await triage.stop()
    await asyncio.sleep(2.5)  # past the 2 s deadline with no triage running
    triage = await start("triage", signal_settings)
    incident = await one_incident(http, triage)
    await triage.stop()  # and a restart after it fired raises nothing more
    triage = await start("triage", signal_settings)
    await asyncio.sleep(0.5)
    assert (await row(signal_settings))["fired"] == 1
    assert [i["id"] for i in await heartbeat_incidents(http, triage)] == [incident["id"]]


async def test_a_backup_that_keeps_failing_opens_an_incident_for_its_missed_rpo(signal_settings, start, http):
    intake, triage = await start("intake", signal_settings), await start("triage", signal_settings)
    await beat(http, intake, "nightly-backup", {"status": "success"})  # RPO 2 s + 1 s grace from now
    for _ in range(4):  # failed runs: never silent (expected hourly), but no new recovery point
        await beat(http, intake, "nightly-backup", {"status": "failed"})
        await asyncio.sleep(0.5)
    incident = await one_incident(http, triage, "nightly-backup")
    assert incident["title"].startswith("backup nightly-backup: no good recovery point since ")
    assert (incident["ci"], incident["category"]) == ("backup", "data")
    await beat(http, intake, "nightly-backup", {"status": "failed"})
    await asyncio.sleep(0.3)
    assert (await listed(http, triage))["nightly-backup"]["status"] == "late"  # a failed run does not end it
    await beat(http, intake, "nightly-backup", {"status": "success"})
    await one_incident(http, triage, "nightly-backup", state="resolved")
    backup = (await listed(http, triage))["nightly-backup"]
    assert backup["status"] == "ok" and backup["recovery_point"] and backup["rpo_s"] == 2.0


async def test_a_failing_control_opens_a_finding_and_a_pass_resolves_it(signal_settings, start, http):
    intake, triage = await start("intake", signal_settings), await start("triage", signal_settings)
    url = f"{intake.url}/v1/controls/audit-logging/results"
    evidence = "https://scanner.example/run/7"
    assert (await post(http, url, {"result": "fail", "ci": "m365", "evidence_url": evidence}, ACME))[0] == 202
    assert (await post(http, url, {"result": "fail", "ci": "m365"}, ACME))[0] == 202  # still failing: no second
    no_incident = f"{intake.url}/v1/controls/backup-encryption/results"  # incident_on_fail is off
    assert (await post(http, no_incident, {"result": "fail"}, ACME))[0] == 202

    async def finding():
        _, body = await call(http, "GET", f"{triage.url}/v1/incidents", tenant="acme")
        return body["items"] if body["items"] and body["items"][0]["state"] == "new" else None

    [incident] = await eventually(finding)
    assert (incident["dedup_key"], incident["ci"]) == ("control:audit-logging:m365", "m365")
    assert incident["title"] == "control failed: Audit logging enabled (HIPAA 164.312(b)) on m365"
    assert len((await detail(http, triage, incident["number"]))["alerts"]) == 1
    assert (await post(http, url, {"result": "pass", "ci": "m365"}, ACME))[0] == 202

    async def closed():
        d = await detail(http, triage, incident["number"])
        return d if d["state"] == "resolved" else None

    assert len((await eventually(closed))["alerts"]) == 2


async def test_the_heartbeat_list_keeps_tenants_apart(signal_settings, start, http):
    triage = await start("triage", signal_settings)
    assert set(await listed(http, triage)) == {"acme-prometheus", "nightly-backup", "weekly-report", "globex-watchdog"}
    assert set(await listed(http, triage, "acme-viewer-token")) == {
        "acme-prometheus",
        "nightly-backup",
        "weekly-report",
    }
    assert set(await listed(http, triage, "globex-viewer-token")) == {"globex-watchdog"}
    status, body = await call(http, "GET", f"{triage.url}/v1/heartbeats", "acme-viewer-token", tenant="globex")
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await call(http, "GET", f"{triage.url}/v1/heartbeats", "admin-token", tennant="acme")
    assert (status, body["error"]["code"]) == (400, "invalid_query")
    weekly = (await listed(http, triage, tenant="acme"))["weekly-report"]
    assert (weekly["status"], weekly["last_beat_at"], weekly["expect_every_s"], weekly["ci"]) == (
        "never", None, 604800.0, "erp-db"
    )  # fmt: skip
