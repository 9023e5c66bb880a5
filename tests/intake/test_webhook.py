"""The generic webhook: accepted means stored on JetStream; every rejection is clear and stores nothing."""

from __future__ import annotations

from libs.bus import connect_bus, consumer_config
from tests.conftest import eventually
from tests.intake.wire import post, stored

GOOD = {
    "summary": "Disk 95% full on fs01",
    "severity": "warning",
    "service": "erp-db",
    "dedup_key": "fs01-disk",
}


async def test_accepted_alert_is_on_the_stream(settings, start, http):
    intake = await start("intake", settings)
    status, body, _ = await post(http, f"{intake.url}/v1/webhooks/generic", GOOD, {"X-Tierline-Key": "acme-key"})
    assert status == 202 and body["status"] == "accepted" and body["dedup_key"] == "fs01-disk"
    [event] = await stored(settings)
    assert event["id"] == body["event_id"] and event["tenant"] == "acme" and event["specversion"] == "1.0"
    assert event["type"] == "tierline.alert.received"
    assert event["data"]["alert_id"] == body["alert_id"] and event["data"]["ci"] == "erp-db"


async def test_key_in_path_or_bearer_and_bound_ci(settings, start, http):
    intake = await start("intake", settings)
    body = {"summary": "replication lag"}
    assert (await post(http, f"{intake.url}/v1/webhooks/generic/acme-db-key", body))[0] == 202
    status, _, _ = await post(http, f"{intake.url}/v1/webhooks/generic", body, {"Authorization": "Bearer globex-key"})
    assert status == 202
    events = await stored(settings)
    assert [(e["tenant"], e["data"]["ci"], e["data"]["integration"]) for e in events] == [
        ("acme", "erp-db", "db-monitor"),  # the key is bound to erp-db, so the alert is about it
        ("globex", None, "grafana"),
    ]
    # Without an explicit dedup key, the same source + CI + summary is the same problem.
    assert events[0]["data"]["dedup_key"].startswith("gen-")


async def test_rejections_store_nothing(settings, start, http):
    intake = await start("intake", settings)
    url = f"{intake.url}/v1/webhooks/generic"
    cases = [
        (None, GOOD, None, 401, "missing_integration_key"),
        ({"X-Tierline-Key": "wrong"}, GOOD, None, 401, "unknown_integration_key"),
        ({"X-Tierline-Key": "acme-revoked-key"}, GOOD, None, 401, "unknown_integration_key"),
        ({"X-Tierline-Key": "acme-key"}, None, b"{not json", 400, "malformed_json"),
        (
            {"X-Tierline-Key": "acme-key"},
            {"severity": "loud", "colour": "red"},
            None,
            422,
            "validation_failed",
        ),
        ({"X-Tierline-Key": "acme-key"}, {"summary": "x" * 2000}, None, 422, "validation_failed"),
    ]
    for headers, body, raw, want_status, want_code in cases:
        status, err, _ = await post(http, url, body, headers, raw)
        assert (status, err["error"]["code"]) == (want_status, want_code), (body, err)
        assert set(err["error"]) == {"code", "message", "details"}
    status, err, _ = await post(http, url, {"severity": "loud", "colour": "red"}, {"X-Tierline-Key": "acme-key"})
    fields = {d["field"] for d in err["error"]["details"]}
    assert fields == {"summary", "severity", "colour"}  # every problem named, not just the first
    assert await stored(settings) == []


async def test_overload_answers_503_with_retry_after(settings, start, http):
    settings = settings.model_copy(update={"intake_max_lag": 3})
    bus = await connect_bus(settings, name="test")
    # triage's consumer exists but nobody drains it: the backlog grows past the bound.
    await bus.js.add_consumer(bus.stream, config=consumer_config(bus, "triage", [bus.subject("alert.received")]))
    intake = await start("intake", settings)
    url = f"{intake.url}/v1/webhooks/generic"
    for i in range(4):  # four different alerts (the same one four times would be one event: a retry)
        assert (await post(http, url, {**GOOD, "dedup_key": f"k{i}"}, {"X-Tierline-Key": "acme-key"}))[0] == 202

    async def refused():
        status, err, headers = await post(http, url, GOOD, {"X-Tierline-Key": "acme-key"})
        return status == 503 and (err, headers)

    err, headers = await eventually(refused, timeout=5)
    assert err["error"]["code"] == "overloaded" and headers["Retry-After"] == "5"
    await bus.close()
