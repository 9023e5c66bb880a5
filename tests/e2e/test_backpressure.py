"""Backpressure from time: a triage stopped with SIGSTOP makes intake refuse (503 + Retry-After) within
seconds, however few alerts are waiting; once it runs again intake accepts again and nothing is lost."""

from __future__ import annotations

import signal

import asyncpg
import pytest

from libs.localstack import free_port
from tests.conftest import eventually
from tests.e2e.test_crash import spawn_triage

pytestmark = pytest.mark.slow


async def send(http, intake, n: int) -> tuple[int, dict[str, str], dict]:
    body = {"summary": f"switch-{n} down", "severity": "error", "dedup_key": f"switch-{n}"}
    async with http.post(f"{intake.url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": "acme-key"}) as r:
        return r.status, dict(r.headers), await r.json()


async def test_a_stalled_triage_makes_intake_refuse_within_seconds(settings, start, http):
    # Far below the count bound (20,000): only the age of the oldest waiting alert can trip it.
    settings = settings.model_copy(update={"intake_max_lag_s": 2.0})
    intake = await start("intake", settings)
    port = free_port()
    triage = await spawn_triage(settings, port)
    accepted: list[str] = []
    try:

        async def alive() -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    return r.status == 200
            except OSError:
                return False

        await eventually(alive, timeout=60)
        n = 0
        for _ in range(5):
            status, _, body = await send(http, intake, n := n + 1)
            assert status == 202
            accepted.append(body["alert_id"])

        triage.send_signal(signal.SIGSTOP)
        refusal: dict = {}

        async def refused() -> bool:
            nonlocal n
            status, headers, body = await send(http, intake, n := n + 1)
            if status == 202:
                accepted.append(body["alert_id"])
                return False
            refusal.update(status=status, retry_after=headers.get("Retry-After"), code=body["error"]["code"])
            return True

        await eventually(refused, timeout=60, interval=0.2)
        assert refusal["status"] == 503 and refusal["code"] == "overloaded" and refusal["retry_after"]
        assert len(accepted) < 500  # refused long before the count bound could matter

        triage.send_signal(signal.SIGCONT)

        async def accepted_again() -> bool:
            nonlocal n
            status, _, body = await send(http, intake, n := n + 1)
            if status == 202:
                accepted.append(body["alert_id"])
            return status == 202

        await eventually(accepted_again, timeout=60, interval=0.2)
        conn = await asyncpg.connect(settings.database_url)
        try:

            async def all_triaged() -> bool:
                return await conn.fetchval("SELECT count(*) FROM triage.incident_alerts") == len(accepted)

            await eventually(all_triaged, timeout=60)
            stored = await conn.fetch("SELECT alert_id FROM triage.incident_alerts")
        finally:
            await conn.close()
        assert sorted(r["alert_id"] for r in stored) == sorted(accepted)
    finally:
        triage.send_signal(signal.SIGCONT)
        triage.send_signal(signal.SIGTERM)
        await triage.wait()
