"""A dead man's switch end to end (intake, triage, escalation, reporting on real NATS and PostgreSQL): Alertmanager's
Watchdog keeps a heartbeat alive; its silence past the grace opens one incident whose SLA clocks run and which the
ledger records; the next Watchdog resolves it; an unknown name, or another tenant's key, beats nothing."""

from __future__ import annotations

from libs.testing import stream_envelopes
from tests.conftest import auth, eventually
from tests.intake.test_signals import watchdog
from tests.intake.wire import fixture, post

ADMIN = auth("admin-token")


async def get(http, url: str) -> dict:
    async with http.get(url, headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_a_silent_watchdog_opens_an_incident_that_clocks_escalation_and_reports_see(signal_settings, start, http):
    svc = {n: await start(n, signal_settings) for n in ("intake", "triage", "escalation", "reporting")}
    intake, triage = svc["intake"].url, svc["triage"].url
    notification = fixture("alertmanager_firing.json") | {"alerts": [watchdog()]}
    am = f"{intake}/v1/webhooks/alertmanager"
    assert (await post(http, am, notification, {"Authorization": "Bearer acme-key"}))[0] == 202

    async def status(want: str) -> dict | None:
        beats = {h["name"]: h for h in (await get(http, f"{triage}/v1/heartbeats?tenant=acme"))["items"]}
        return beats["acme-prometheus"] if beats["acme-prometheus"]["status"] == want else None

    assert (await eventually(lambda: status("ok")))["last_beat_at"]

    # Nobody beats it, nor may anyone else: an unknown name and globex's key are refused and store nothing.
    for name, key, code in (("acme-prometheus2", "acme-key", 404), ("acme-prometheus", "globex-key", 404)):
        answer = await post(http, f"{intake}/v1/heartbeats/{name}", {}, {"X-Tierline-Key": key})
        assert answer[0] == code, answer
    await eventually(lambda: status("late"), timeout=15)  # late by the clock: 1 s expected, 1 s grace

    async def opened() -> dict | None:
        found = (await get(http, f"{triage}/v1/incidents?tenant=acme"))["items"]
        return found[0] if found else None

    incident = await eventually(opened)  # once the worker noticed
    assert (incident["number"], incident["dedup_key"], incident["priority"]) == (
        "ACME-1", "heartbeat:acme-prometheus", "P1"
    )  # fmt: skip
    assert (await eventually(lambda: status("late")))["incident"]["number"] == "ACME-1"

    async def clocks() -> dict | None:
        async with http.get(f"{svc['escalation'].url}/v1/sla/incidents/{incident['id']}", headers=ADMIN) as r:
            return await r.json() if r.status == 200 else None

    assert {c["clock"] for c in (await eventually(clocks))["clocks"]} == {"response", "resolution"}

    # The next Watchdog notification ends the silence and resolves the incident.
    assert (await post(http, am, notification, {"Authorization": "Bearer acme-key"}))[0] == 202

    async def resolved() -> dict | None:
        d = await get(http, f"{triage}/v1/incidents/{incident['id']}")
        return d if d["state"] == "resolved" else None

    done = await eventually(resolved)
    assert [a["status"] for a in done["alerts"]] == ["firing", "resolved"]
    assert (await eventually(lambda: status("ok")))["incident"] is None

    async def recorded() -> list[str] | None:
        types = [row["type"] for row in (await get(http, f"{svc['reporting'].url}/v1/ledger/acme?limit=500"))["items"]]
        return types if "incident.resolved" in types and types.count("heartbeat.received") == 2 else None

    types = await eventually(recorded)
    assert "sla.clocks_started" in types and "alert.received" not in types  # the Watchdog was never an alert
    assert len(await stream_envelopes(signal_settings, "heartbeat.received")) == 2
