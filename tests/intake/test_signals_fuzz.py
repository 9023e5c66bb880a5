"""The heartbeat, restore-test and control-result endpoints fuzzed from their OpenAPI schemas (as test_fuzz.py
does the webhooks): whatever arrives, never a 5xx, and exactly the events answered 202 are on the stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as fuzzing
from hypothesis_jsonschema import from_schema

from tests.intake.test_fuzz import bodies, schema_for
from tests.intake.wire import stored

EXAMPLES = 150  # per endpoint: the bodies are small and flat
AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
ENDPOINTS = {
    "/v1/heartbeats/nightly-backup": ("Beat", {"status": "success", "recovery_point": AN_HOUR_AGO, "note": "ok"}),
    "/v1/recovery-tests": (
        "RecoveryTest",
        {"ci": "erp-db", "started_at": AN_HOUR_AGO, "finished_at": AN_HOUR_AGO, "success": True},
    ),
    "/v1/controls/audit-logging/results": (
        "ControlResult",
        {"result": "fail", "ci": "m365", "evidence_url": "https://scanner.example/1"},
    ),
}


async def test_no_signal_body_makes_a_5xx_or_publishes_when_refused(signal_settings, start, http):
    intake = await start("intake", signal_settings)
    loop = asyncio.get_running_loop()
    accepted: set[str] = set()
    statuses: dict[int, int] = {}

    async def send(path: str, raw: bytes) -> None:
        headers = {"Content-Type": "application/json", "X-Tierline-Key": "acme-key"}
        async with http.post(f"{intake.url}{path}", data=raw, headers=headers) as r:
            statuses[r.status] = statuses.get(r.status, 0) + 1
            assert r.status < 500, (path, raw[:300], await r.text())
            if r.status == 202:
                accepted.add((await r.json())["event_id"])

    def fuzz(path: str, schema_name: str, start_body: dict) -> None:
        @fuzzing(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(raw=bodies(start_body, from_schema(schema_for(schema_name))))
        def one(raw: bytes) -> None:
            asyncio.run_coroutine_threadsafe(send(path, raw), loop).result(timeout=30)

        one()

    for path, (schema_name, start_body) in ENDPOINTS.items():
        await asyncio.to_thread(fuzz, path, schema_name, start_body)
    assert statuses.get(202, 0) and statuses.get(422, 0) and statuses.get(400, 0)  # every gate reached
    kinds = ("heartbeat.received", "recovery_test.recorded", "control.result_recorded")
    assert {e["id"] for kind in kinds for e in await stored(signal_settings, kind)} == accepted
