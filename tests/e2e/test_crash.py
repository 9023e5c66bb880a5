"""Kill -9 the process running triage while alerts flow, restart it: every accepted alert ends in exactly
one incident update - none lost, none doubled (inbox + outbox + JetStream redelivery)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys

import asyncpg
import pytest

from bench.chaos_check import numbers_wrong
from libs.bus import connect_bus
from libs.localstack import die_with_parent, free_port
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def spawn_triage(settings, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TIERLINE_NATS_URL": settings.nats_url,
        "TIERLINE_DATABASE_URL": settings.database_url,
        "TIERLINE_CONFIG": str(settings.config),
        "TIERLINE_BUS_PREFIX": settings.bus_prefix,
        "TIERLINE_SERVICE_PORT": str(port),
        "TIERLINE_BATCH_SIZE": "50",
        "TIERLINE_LOG_LEVEL": "warning",
        "TIERLINE_ACK_WAIT_S": "2",
    }  # redeliver what the killed process held after 2 s, not 30
    # If this test dies, its triage process must not outlive it.
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services",
        "serve",
        "triage",
        env=env,
        preexec_fn=lambda: die_with_parent(signal.SIGKILL),
    )


async def test_kill_triage_mid_stream_loses_and_doubles_nothing(settings, start, http):
    intake = await start("intake", settings)
    port = free_port()
    triage = await spawn_triage(settings, port)
    rng = random.Random(7)
    keys = [f"disk-{i}" for i in range(40)]
    accepted: list[tuple[str, str]] = []  # (alert_id, dedup_key)
    sent: list[str] = []

    async def send(n: int) -> None:
        for _ in range(n):
            key = rng.choice(keys)
            # A fresh label per send: each is a new delivery (the same content twice is one stored event).
            body = {"summary": f"{key} full", "severity": "warning", "dedup_key": key, "labels": {"n": str(len(sent))}}
            sent.append(key)
            async with http.post(
                f"{intake.url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": "acme-key"}
            ) as r:
                if r.status == 202:
                    accepted.append(((await r.json())["alert_id"], key))

    sender = asyncio.gather(*(send(150) for _ in range(4)))
    for _ in range(3):  # kill it three times while alerts are flowing
        await asyncio.sleep(0.6)
        triage.send_signal(signal.SIGKILL)
        await triage.wait()
        triage = await spawn_triage(settings, port)
    await sender
    try:
        bus = await connect_bus(settings, name="probe")
        await eventually(lambda: _drained(bus), timeout=60)
        await bus.close()
        conn = await asyncpg.connect(settings.database_url)
        try:
            rows = await conn.fetch("SELECT alert_id, incident_id FROM triage.incident_alerts")
            incidents = await conn.fetch("SELECT dedup_key, occurrences, tenant, number FROM triage.incidents")
        finally:
            await conn.close()
    finally:
        triage.send_signal(signal.SIGTERM)
        await triage.wait()

    assert len(accepted) == 600
    assert sorted(r["alert_id"] for r in rows) == sorted(a for a, _ in accepted)  # each exactly once
    by_key = {i["dedup_key"]: i for i in incidents}
    assert len(incidents) == len(by_key) == len({k for _, k in accepted})  # one incident per problem
    per_key: dict[str, int] = {}
    for _, k in accepted:
        per_key[k] = per_key.get(k, 0) + 1
    assert {k: i["occurrences"] for k, i in by_key.items()} == per_key  # no update lost or applied twice
    assert numbers_wrong(incidents) == 0  # the chaos suite's check: each tenant's numbers 1..n, once each


async def _drained(bus) -> bool:
    try:
        return await bus.lag("triage") == 0
    except Exception:
        return False
