"""PostgreSQL killed (kill -9) for clearly longer than the whole retry schedule while alerts keep arriving, then
started again: every alert answered 202 is exactly one incident, with its SLA clocks and its ledger rows, and
nothing is dead-lettered. Issue 11 lost 1,035 alerts this way in a 30 s outage; `make chaos` runs the long one,
this one is a few seconds with a shortened schedule (TIERLINE_TEST_PG_OUTAGE_S to lengthen it)."""

from __future__ import annotations

import asyncio
import os
import signal

import asyncpg
import pytest

from bench.chaos_check import clocks_wrong
from libs.localstack import LocalPostgres
from libs.testing import dead_letter_count, fresh_settings
from tests.conftest import TEST_CONFIG, eventually

pytestmark = pytest.mark.slow
OUTAGE_S = float(os.environ.get("TIERLINE_TEST_PG_OUTAGE_S", "3"))
SERVICES = ("intake", "triage", "escalation", "change", "reporting")


async def send(http, intake, n: int) -> str | None:
    body = {"summary": f"host-{n} unreachable", "severity": "error", "dedup_key": f"host-{n}"}
    try:
        async with http.post(
            f"{intake.url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": "acme-key"}
        ) as r:
            return (await r.json())["alert_id"] if r.status == 202 else None
    except Exception:
        return None


async def start_postgres(data, port: int) -> LocalPostgres:
    """Start on the same port and data directory; a killed postmaster's backends may need a moment to go."""
    for _ in range(50):
        pg = LocalPostgres()
        try:
            await pg.start(data, port=port)
            return pg
        except RuntimeError:
            await asyncio.sleep(0.2)
    raise RuntimeError("PostgreSQL did not come back")


async def readiness(http, svc) -> dict:
    async with http.get(f"{svc.url}/readyz") as r:
        return await r.json()


async def test_a_postgres_outage_longer_than_the_retry_schedule_loses_nothing(tmp_path, real_servers, start, http):
    pg = LocalPostgres()
    # Our own (the session's shared one must stay up), durable: a crashed fast one forgets its last commits.
    db_url = await pg.start(tmp_path / "pg")
    port = int(db_url.rsplit(":", 1)[1].split("/")[0])
    # The whole retry schedule is 0.1 + 0.2 + 0.3 s before a dead letter; the outage lasts OUTAGE_S (3 s).
    settings = fresh_settings(
        real_servers, db_url, TEST_CONFIG, max_deliveries=4, dependency_backoff_s=[0.1, 0.2, 0.5],
        intake_max_lag_s=600, ack_wait_s=2,
    )  # fmt: skip
    svcs = {name: await start(name, settings) for name in SERVICES}
    accepted: list[str] = []
    try:
        for n in range(20):
            accepted.append(await send(http, svcs["intake"], n) or "")
        assert all(accepted)

        os.kill(pg.proc.pid, signal.SIGKILL)  # as the experiment did: the postmaster, not a clean stop
        await pg.proc.wait()
        loop = asyncio.get_running_loop()
        ends, n = loop.time() + OUTAGE_S, 20
        waiting_seen = False
        while loop.time() < ends:  # alerts keep coming; intake needs no database, so it accepts them
            if alert_id := await send(http, svcs["intake"], n):
                accepted.append(alert_id)
            n += 1
            ready = await readiness(http, svcs["triage"])
            waiting_seen = waiting_seen or ready.get("failing", {}).get("consumer", "").startswith(
                "waiting for PostgreSQL"
            )
            await asyncio.sleep(0.05)
        assert waiting_seen, "triage's /readyz never said its consumer waits for PostgreSQL"
        assert len(accepted) > 30
        pg = await start_postgres(tmp_path / "pg", port)
        for m in range(n, n + 20):
            accepted.append(await send(http, svcs["intake"], m) or "")
        assert all(accepted)

        conn = await eventually(lambda: _connect(db_url), timeout=30)
        try:
            await eventually(lambda: _caught_up(conn, len(accepted)), timeout=60, interval=0.2)
            rows = await conn.fetch("SELECT alert_id FROM triage.incident_alerts")
            incidents = await conn.fetchval("SELECT count(*) FROM triage.incidents")
            clocks = await conn.fetchval("SELECT count(DISTINCT incident_id) FROM escalation.sla_clocks")
            wrong_clocks = await clocks_wrong(conn)
            ledger = await conn.fetch("SELECT type, count(*) AS n FROM reporting.ledger GROUP BY type")
        finally:
            await conn.close()
        assert sorted(r["alert_id"] for r in rows) == sorted(accepted)  # each exactly once
        assert incidents == len(accepted)  # a dedup key each: one incident each
        assert clocks == incidents  # escalation caught up: every incident has its clocks
        assert wrong_clocks == 0  # the chaos suite's check: one response and one resolution clock each
        by_type = {r["type"]: r["n"] for r in ledger}
        assert by_type["alert.received"] == len(accepted) and by_type["incident.opened"] == incidents
        assert await dead_letter_count(settings) == 0
        for svc in svcs.values():
            await eventually(lambda svc=svc: _ready(http, svc), timeout=30)
    finally:
        await pg.stop()


async def _connect(url: str) -> asyncpg.Connection | None:
    try:
        return await asyncpg.connect(url, timeout=2)
    except Exception:
        return None


async def _caught_up(conn: asyncpg.Connection, alerts: int) -> bool:
    done = await conn.fetchval(
        "SELECT (SELECT count(*) FROM triage.incident_alerts) = $1"
        " AND (SELECT count(DISTINCT incident_id) FROM escalation.sla_clocks) = (SELECT count(*) FROM triage.incidents)"
        " AND (SELECT count(*) FROM reporting.ledger WHERE type = 'incident.opened') = $1",
        alerts,
    )
    return bool(done)


async def _ready(http, svc) -> bool:
    async with http.get(f"{svc.url}/readyz") as r:
        return r.status == 200
