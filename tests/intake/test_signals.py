"""Heartbeats, restore tests and control results at intake: each stored as one event once JetStream has it, each
refusal clear and storing nothing, a tenant's names unknown to every other tenant's key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.intake.wire import fixture, post, stored

ACME = {"X-Tierline-Key": "acme-key"}
GLOBEX = {"X-Tierline-Key": "globex-key"}
PROVIDER = {"X-Tierline-Key": "provider-am-key"}


@pytest.fixture
async def intake(signal_settings, start):
    return await start("intake", signal_settings)


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def test_a_bare_post_is_a_beat(signal_settings, intake, http):
    async with http.post(f"{intake.url}/v1/heartbeats/acme-prometheus", headers=ACME) as r:  # curl -X POST, no body
        assert r.status == 202, await r.text()
        answer = await r.json()
    status, again, _ = await post(http, f"{intake.url}/v1/heartbeats/acme-prometheus", {}, ACME)
    assert status == 202 and again["heartbeat"] == "acme-prometheus" and "result" not in again
    first, second = await stored(signal_settings, "heartbeat.received")
    assert first["id"] == answer["event_id"] and first["tenant"] == "acme" and first["subject"] == "acme-prometheus"
    data = first["data"]
    assert (data["heartbeat"], data["kind"], data["ci"], data["source"], data["integration"]) == (
        "acme-prometheus", "heartbeat", "monitoring", "http", "prometheus"
    )  # fmt: skip
    assert data["status"] is None and data["recovery_point"] is None
    assert second["id"] != first["id"]  # every beat counts, even when it says the same


async def test_backup_runs_carry_their_outcome_and_recovery_point(signal_settings, intake, http):
    url, point = f"{intake.url}/v1/heartbeats/nightly-backup", ago(hours=2)
    status, answer, _ = await post(http, url, {"status": "success", "recovery_point": point}, ACME)
    assert status == 202 and answer["result"] == "success"
    assert datetime.fromisoformat(answer["recovery_point"]) == datetime.fromisoformat(point)
    assert (await post(http, url, {"status": "success", "recovery_point": point}, ACME))[1] == answer  # a retry
    status, failed, _ = await post(http, url, {"status": "failed", "note": "tape drive offline"}, ACME)
    assert status == 202 and (failed["result"], failed["recovery_point"]) == ("failed", None)
    status, bare, _ = await post(http, url, None, ACME, raw=b"")
    assert status == 202 and bare["result"] == "success"  # a backup beat without a word is a good run, now
    runs = [e["data"] for e in await stored(signal_settings, "heartbeat.received")]
    assert [(r["status"], r["note"]) for r in runs] == [("success", None), ("failed", "tape drive offline"),
                                                        ("success", None)]  # fmt: skip
    assert runs[2]["recovery_point"] == runs[2]["received_at"]


@pytest.mark.parametrize(
    ("name", "body", "field", "message"),
    [
        ("nightly-backup", {"status": "failed", "recovery_point": "2026-01-01T00:00:00Z"}, "recovery_point",
         "a failed backup run has no recovery point"),
        ("nightly-backup", {"recovery_point": "2999-01-01T00:00:00Z"}, "recovery_point", "lies in the future"),
        ("nightly-backup", {"status": "partial"}, "status", "Input should be 'success' or 'failed'"),
        ("acme-prometheus", {"status": "success"}, "status", "only a backup heartbeat carries it"),
        ("acme-prometheus", {"satus": "success"}, "satus", "Extra inputs are not permitted"),
    ],
)  # fmt: skip
async def test_a_beat_that_does_not_fit_is_a_422_naming_the_field(signal_settings, intake, http, name, body, field,
                                                                   message):  # fmt: skip
    status, err, _ = await post(http, f"{intake.url}/v1/heartbeats/{name}", body, ACME)
    assert status == 422 and err["error"]["code"] == "validation_failed"
    assert [(d["field"], d["message"]) for d in err["error"]["details"]] == [(field, message)]
    assert await stored(signal_settings) == []


async def test_a_name_is_known_only_to_its_own_tenants_keys(signal_settings, intake, http):
    cases = [
        (ACME, "no-such-beat", 404, "unknown_heartbeat"),
        (GLOBEX, "acme-prometheus", 404, "unknown_heartbeat"),  # acme's heartbeat, globex's key: no such thing
        (PROVIDER, "acme-prometheus", 403, "tenant_key_required"),
        ({"X-Tierline-Key": "wrong"}, "acme-prometheus", 401, "unknown_integration_key"),
    ]
    for headers, name, want, code in cases:
        status, err, _ = await post(http, f"{intake.url}/v1/heartbeats/{name}", {}, headers)
        assert (status, err["error"]["code"]) == (want, code), name
    assert await stored(signal_settings) == []
    assert (await post(http, f"{intake.url}/v1/heartbeats/globex-watchdog", {}, GLOBEX))[0] == 202


async def test_restore_tests_are_recorded_once(signal_settings, intake, http):
    url = f"{intake.url}/v1/recovery-tests"
    body = {
        "ci": "erp-db",
        "started_at": ago(hours=3),
        "finished_at": ago(hours=2),
        "success": True,
        "note": "DR drill",
    }
    status, answer, _ = await post(http, url, body, ACME)
    assert status == 202 and answer["test_id"]
    assert (await post(http, url, body, ACME))[1] == answer  # the same report again: one event
    [event] = await stored(signal_settings, "recovery_test.recorded")
    assert event["id"] == answer["event_id"] and event["subject"] == "erp-db"
    assert (event["data"]["ci"], event["data"]["success"], event["data"]["note"]) == ("erp-db", True, "DR drill")
    bad = [
        ({**body, "ci": "mainframe"}, "ci", "the tenant has no service 'mainframe'"),
        ({**body, "finished_at": ago(hours=4)}, "finished_at", "is before started_at"),
        ({**body, "finished_at": "2999-01-01T00:00:00Z"}, "finished_at", "lies in the future"),
        ({k: v for k, v in body.items() if k != "success"}, "success", "Field required"),
    ]
    for wrong, field, message in bad:
        status, err, _ = await post(http, url, wrong, ACME)
        assert status == 422 and [(d["field"], d["message"]) for d in err["error"]["details"]] == [(field, message)]
    assert (await post(http, url, {**body, "ci": "crm"}, GLOBEX))[0] == 202  # globex's own CI, globex's key
    assert (await post(http, url, body, GLOBEX))[0] == 422  # acme's CI is unknown to globex
    assert len(await stored(signal_settings, "recovery_test.recorded")) == 2


async def test_control_results(signal_settings, intake, http):
    url = f"{intake.url}/v1/controls/audit-logging/results"
    evidence = "https://scanner.example/reports/42"
    status, answer, _ = await post(http, url, {"result": "fail", "ci": "m365", "evidence_url": evidence}, ACME)
    assert status == 202 and answer["ci"] == "m365"
    status, single, _ = await post(
        http, f"{intake.url}/v1/controls/backup-encryption/results", {"result": "pass"}, ACME
    )
    assert status == 202 and single["ci"] == "backup"  # a control of one CI needs no `ci`
    first, second = (e["data"] for e in await stored(signal_settings, "control.result_recorded"))
    assert (first["control_id"], first["framework_ref"], first["ci"], first["result"], first["evidence_url"]) == (
        "audit-logging", "HIPAA 164.312(b)", "m365", "fail", evidence
    )  # fmt: skip
    assert first["checked_at"] == first["received_at"] and second["result"] == "pass"
    bad = [
        ({"result": "pass"}, "ci", "required: the control covers erp-db, m365"),
        ({"result": "pass", "ci": "backup"}, "ci", "not in the control's scope (erp-db, m365)"),
        ({"result": "pass", "ci": "m365", "evidence_url": "file:///etc/passwd"}, "evidence_url", "String should match"),
        ({"result": "maybe", "ci": "m365"}, "result", "Input should be 'pass' or 'fail'"),
    ]
    for wrong, field, message in bad:
        status, err, _ = await post(http, url, wrong, ACME)
        assert status == 422, err
        [(where, msg)] = [(d["field"], d["message"]) for d in err["error"]["details"]]
        assert where == field and msg.startswith(message)
    status, err, _ = await post(http, url, {"result": "pass", "ci": "m365"}, GLOBEX)
    assert (status, err["error"]["code"]) == (404, "unknown_control")
    assert len(await stored(signal_settings, "control.result_recorded")) == 2


def watchdog(status: str = "firing", **labels: str) -> dict:
    return {
        "status": status,
        "labels": {"alertname": "Watchdog", "severity": "none", **labels},
        "annotations": {"summary": "An alert that should always be firing"},
        "startsAt": "2026-11-28T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "e5d4c3b2a1f00000",
    }


async def test_a_mapped_alertmanager_alert_is_a_beat_not_an_alert(signal_settings, intake, http):
    body = fixture("alertmanager_firing.json")
    body["alerts"] = [watchdog(), body["alerts"][0]]
    url = f"{intake.url}/v1/webhooks/alertmanager"
    status, answer, _ = await post(http, url, body, ACME)
    assert status == 202 and len(answer["alerts"]) == 1
    assert [h["heartbeat"] for h in answer["heartbeats"]] == ["acme-prometheus"]
    [alert] = await stored(signal_settings, "alert.received")
    [beat] = await stored(signal_settings, "heartbeat.received")
    assert alert["data"]["summary"].startswith("Filesystem") and beat["data"]["source"] == "alertmanager"
    # Alertmanager repeats the very same Watchdog notification every repeat_interval: each one is a beat.
    body["alerts"] = [watchdog()]
    assert (await post(http, url, body, ACME))[1]["alerts"] == []
    # A resolved Watchdog is neither a beat nor an alert: the silence that follows says it.
    body["alerts"] = [watchdog("resolved")]
    status, answer, _ = await post(http, url, body, ACME)
    assert status == 202 and answer["alerts"] == [] and "heartbeats" not in answer
    assert len(await stored(signal_settings, "heartbeat.received")) == 2
    assert len(await stored(signal_settings, "alert.received")) == 1


async def test_a_provider_wide_alertmanager_beats_the_tenant_its_label_names(signal_settings, intake, http):
    body = fixture("alertmanager_firing.json")
    body["alerts"] = [watchdog(customer="globex"), watchdog(customer="acme")]
    status, answer, _ = await post(http, f"{intake.url}/v1/webhooks/alertmanager", body, PROVIDER)
    assert status == 202, answer
    beats = await stored(signal_settings, "heartbeat.received")
    assert [(b["tenant"], b["data"]["heartbeat"]) for b in beats] == [("globex", "globex-watchdog"),
                                                                      ("acme", "acme-prometheus")]  # fmt: skip
