"""Every intake endpoint against a running intake and a real JetStream: what is stored, what is refused."""

from __future__ import annotations

import base64
import json
import time

from aiohttp import web
from openapi_spec_validator import validate

from libs.bus import connect_bus
from services.intake.api import add_routes
from services.intake.api.openapi import document
from services.intake.api.security import sign
from tests.intake.wire import fixture, post, stored

AM = {"Authorization": "Bearer acme-key"}


async def test_alertmanager_notification_stores_each_alert(settings, start, http):
    intake = await start("intake", settings)
    basic = "Basic " + base64.b64encode(b"alertmanager:acme-key").decode()
    status, body, _ = await post(
        http, f"{intake.url}/v1/webhooks/alertmanager", fixture("alertmanager_firing.json"), {"Authorization": basic}
    )
    assert status == 202 and len(body["alerts"]) == 3 and body["truncated_alerts"] == 0
    events = await stored(settings, "alert.received")
    assert [e["id"] for e in events] == [a["alert_id"] for a in body["alerts"]]
    assert {(e["tenant"], e["data"]["source"], e["data"]["integration"]) for e in events} == {
        ("acme", "alertmanager", "prometheus")
    }
    first = events[0]["data"]
    assert (first["dedup_key"], first["severity"], first["ci"]) == ("5b0a6c4e3f2d1a90", "critical", "erp-db")
    assert first["detection_delay_s"] > 0  # startsAt -> received, for mean time to detect


async def test_a_retried_delivery_is_stored_once(settings, start, http):
    intake = await start("intake", settings)
    url = f"{intake.url}/v1/webhooks/alertmanager"
    first = await post(http, url, fixture("alertmanager_firing.json"), AM)
    again = await post(http, url, fixture("alertmanager_firing.json"), AM)  # the tool's retry after a timeout
    assert first[0] == again[0] == 202 and first[1]["alerts"] == again[1]["alerts"]
    assert len(await stored(settings, "alert.received")) == 3
    # Generic with an Idempotency-Key: the key names the delivery, whatever the body says.
    gen = f"{intake.url}/v1/webhooks/generic"
    for summary in ("disk full", "disk full (retry with a new timestamp in the text)"):
        h = {"X-Tierline-Key": "acme-key", "Idempotency-Key": "rmm-run-77"}
        assert (await post(http, gen, {"summary": summary}, h))[0] == 202
    assert len(await stored(settings, "alert.received")) == 4


async def test_provider_wide_key_routes_each_alert_by_its_label(settings, start, http):
    intake = await start("intake", settings)
    raw = fixture("alertmanager_firing.json")
    for alert, customer in zip(raw["alerts"], ["acme", "globex", "acme"], strict=True):
        alert["labels"]["customer"] = customer
    url = f"{intake.url}/v1/webhooks/alertmanager/provider-am-key"
    assert (await post(http, url, raw))[0] == 202
    assert [e["tenant"] for e in await stored(settings, "alert.received")] == ["acme", "globex", "acme"]

    del raw["alerts"][1]["labels"]["customer"]
    for a in raw["alerts"]:
        a["fingerprint"] += "-b"
    status, err, _ = await post(http, url, raw)
    assert status == 422 and err["error"]["details"][0]["field"] == "alerts.1.labels.customer"
    assert len(await stored(settings, "alert.received")) == 3  # all or nothing: none of the second batch


async def test_provider_wide_key_refusals_name_the_field_of_the_body_sent(settings, start, http):
    """Each format carries the tenant label in its own place; the 422 names that place, not Alertmanager's."""
    intake = await start("intake", settings)
    generic = f"{intake.url}/v1/webhooks/generic/provider-am-key"
    status, err, _ = await post(http, generic, {"summary": "disk full"})
    assert status == 422 and err["error"]["details"][0]["field"] == "labels.customer"
    status, err, _ = await post(http, generic, {"summary": "disk full", "labels": {"customer": "nobody"}})
    assert err["error"]["details"][0] == {"field": "labels.customer", "message": "the customer label names no "
                                          "tenant ('nobody')"}  # fmt: skip
    trigger = {"routing_key": "provider-am-key", "event_action": "trigger",
               "payload": {"summary": "disk full", "source": "fs-01", "severity": "error"}}  # fmt: skip
    status, err, _ = await post(http, f"{intake.url}/v2/enqueue", trigger)
    assert status == 400 and err["errors"] == ["payload.custom_details.customer: the customer label is missing"]
    assert await stored(settings, "alert.received") == []


async def test_tenant_key_ignores_a_tenant_label(settings, start, http):
    intake = await start("intake", settings)
    raw = fixture("alertmanager_resolved.json")
    raw["alerts"][0]["labels"]["tenant"] = "globex"
    assert (await post(http, f"{intake.url}/v1/webhooks/alertmanager", raw, AM))[0] == 202
    assert [e["tenant"] for e in await stored(settings)] == ["acme"]  # a tenant's key writes only its tenant


async def test_grafana_signed_contact_point(settings, start, http):
    intake = await start("intake", settings)
    url = f"{intake.url}/v1/webhooks/grafana"
    raw = json.dumps(fixture("grafana_firing.json")).encode()
    ts = int(time.time())
    good = {
        "Authorization": "Bearer globex-grafana-key",
        "X-Grafana-Alert-Timestamp": str(ts),
        "X-Grafana-Alert-Signature": sign("grafana-signing-secret-0123", raw, timestamp=ts, style="grafana"),
    }
    refused = [
        ({**good, "X-Grafana-Alert-Signature": "00" * 32}, "bad_signature"),
        ({k: v for k, v in good.items() if k != "X-Grafana-Alert-Signature"}, "signature_required"),
        ({**good, "X-Grafana-Alert-Timestamp": str(ts - 3600)}, "stale_signature"),
    ]
    for headers, code in refused:
        status, err, _ = await post(http, url, headers=headers, raw=raw)
        assert (status, err["error"]["code"]) == (401, code)
    assert await stored(settings) == []
    status, _, _ = await post(http, url, headers=good, raw=raw)
    assert status == 202
    [event] = await stored(settings)
    assert (event["tenant"], event["data"]["source"], event["data"]["ci"]) == ("globex", "grafana", "crm")


async def test_tierline_signature_on_any_endpoint(settings, start, http):
    intake = await start("intake", settings)
    raw = b'{"summary": "backup job failed", "service": "erp-db"}'
    ts = int(time.time())
    headers = {"X-Tierline-Key": "acme-signed-key", "X-Tierline-Timestamp": str(ts)}
    url = f"{intake.url}/v1/webhooks/generic"
    status, err, _ = await post(http, url, headers=headers, raw=raw)
    assert (status, err["error"]["code"]) == (401, "signature_required")
    headers["X-Tierline-Signature"] = sign("acme-signing-secret-0123", raw, timestamp=ts)
    assert (await post(http, url, headers=headers, raw=raw))[0] == 202


async def test_limits_and_their_precise_errors(settings, start, http):
    intake = await start("intake", settings)
    am = f"{intake.url}/v1/webhooks/alertmanager"
    big = fixture("alertmanager_firing.json")
    big["commonAnnotations"] = {"padding": "x" * (512 * 1024)}
    cases = [
        (am, {"raw": json.dumps(big).encode()}, AM, 413, "payload_too_large"),
        (am, {"raw": b"summary=disk"}, {**AM, "Content-Type": "application/x-www-form-urlencoded"}, 415,
         "unsupported_media_type"),
        (am, {"raw": b"{\"version\": "}, AM, 400, "malformed_json"),
        (am, {"body": {**fixture("alertmanager_firing.json"), "version": "3"}}, AM, 422, "validation_failed"),
        (am, {"body": fixture("alertmanager_firing.json")}, {"Authorization": "Bearer nope"}, 401,
         "unknown_integration_key"),
        (am, {"body": fixture("alertmanager_firing.json")}, {"Authorization": "Bearer acme-revoked-key"}, 401,
         "unknown_integration_key"),
    ]  # fmt: skip
    for url, kw, headers, want, code in cases:
        status, err, _ = await post(http, url, headers=headers, **kw)
        assert (status, err["error"]["code"]) == (want, code)
        assert "acme-key" not in json.dumps(err)  # never says which keys exist
    status, err, _ = await post(http, am, {**fixture("alertmanager_firing.json"), "version": "3"}, AM)
    assert err["error"]["details"][0]["field"] == "version"
    assert await stored(settings) == []


async def test_rate_limit_per_key_with_retry_after(settings, start, http):
    intake = await start("intake", settings)
    url, slow = f"{intake.url}/v1/webhooks/generic", {"X-Tierline-Key": "acme-slow-key"}
    results = [await post(http, url, {"summary": f"alert {i}"}, slow) for i in range(3)]
    assert [r[0] for r in results] == [202, 202, 429]
    assert results[2][1]["error"]["code"] == "rate_limited" and int(results[2][2]["Retry-After"]) >= 1
    assert (await post(http, url, {"summary": "other key"}, {"X-Tierline-Key": "acme-key"}))[0] == 202
    pd_status, pd_body, pd_headers = await post(
        http, f"{intake.url}/v2/enqueue", {**fixture("pagerduty_trigger.json"), "routing_key": "acme-slow-key"}
    )
    assert (pd_status, pd_body["status"]) == (429, "throttle event") and "Retry-After" in pd_headers
    assert len(await stored(settings)) == 3


async def test_pagerduty_answers_like_pagerduty(settings, start, http):
    intake = await start("intake", settings)
    url = f"{intake.url}/v2/enqueue"
    status, body, _ = await post(http, url, fixture("pagerduty_trigger.json"))
    assert (status, body) == (202, {"status": "success", "message": "Event processed",
                                    "dedup_key": "erp-db-replication-lag"})  # fmt: skip
    no_key = fixture("pagerduty_trigger.json")
    del no_key["dedup_key"]
    status, body, _ = await post(http, f"{intake.url}/v1/webhooks/pagerduty", no_key)
    assert status == 202 and len(body["dedup_key"]) == 32  # generated and returned

    bad = {**fixture("pagerduty_trigger.json"), "payload": {"summary": "", "severity": "fatal"}}
    status, body, _ = await post(http, url, bad)
    assert status == 400 and body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert any(e.startswith("payload.summary") for e in body["errors"])
    assert any(e.startswith("payload.source") for e in body["errors"])
    status, body, _ = await post(http, url, raw=b"{oops")
    assert (status, body["status"]) == (400, "invalid event")
    status, body, _ = await post(http, url, {**fixture("pagerduty_trigger.json"), "routing_key": "unknown"})
    assert status == 401 and set(body) == {"status", "message", "errors"}
    status, body, _ = await post(http, url, {"event_action": "trigger"})
    assert status == 400 and body["errors"] == ["routing_key: Field required"]
    events = await stored(settings, "alert.received")
    assert [e["data"]["dedup_key"] for e in events] == ["erp-db-replication-lag", events[1]["data"]["dedup_key"]]


async def test_pagerduty_change_event_is_a_change_signal(settings, start, http):
    intake = await start("intake", settings)
    status, body, _ = await post(http, f"{intake.url}/v2/change/enqueue", fixture("pagerduty_change.json"))
    assert (status, body["status"]) == (202, "success")
    [event] = await stored(settings, "intake.change_received")
    data = event["data"]
    assert (event["tenant"], data["ci"], data["summary"]) == ("acme", "erp-db", "Deployed erp-api 4.12.0 to production")
    assert data["links"] == [{"href": "https://ci.example.com/builds/1184", "text": "Build 1184"}]
    status, body, _ = await post(http, f"{intake.url}/v2/change/enqueue", {"routing_key": "acme-key", "payload": {}})
    assert status == 400 and body["errors"] == ["payload.summary: Field required"]


async def test_bus_outage_is_503_never_4xx(settings, start, http):
    intake = await start("intake", settings)
    bus = await connect_bus(settings, name="saboteur")
    await bus.js.delete_stream(bus.stream)  # JetStream cannot store anything now
    await bus.close()
    status, err, headers = await post(
        http, f"{intake.url}/v1/webhooks/alertmanager", fixture("alertmanager_firing.json"), AM
    )
    assert (status, err["error"]["code"]) == (503, "bus_unavailable") and headers["Retry-After"]
    status, body, headers = await post(http, f"{intake.url}/v2/enqueue", fixture("pagerduty_trigger.json"))
    assert (status, body["status"]) == (503, "unavailable") and headers["Retry-After"]


async def test_openapi_document_is_valid_and_complete(settings, start, http):
    intake = await start("intake", settings)
    async with http.get(f"{intake.url}/openapi.json") as r:
        doc = await r.json()
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    app = web.Application()
    add_routes(app)
    posts = {r.resource.canonical for r in app.router.routes() if r.method == "POST"}
    assert {p for p, ops in doc["paths"].items() if "post" in ops} == posts == set(document()["paths"])
