"""`tierline reporting rebuild`: a ledger replayed from the stream gives the same figures as the live one."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from libs.bus import connect_bus
from services.reporting import store
from services.reporting.rebuild import rebuild
from tests.conftest import eventually
from tests.events import alert, utc
from tests.reporting.test_reporting import MARCH, _lag_is_zero, get, scenario

TIERLINE = Path(sys.executable).parent / "tierline"


async def publish_scenario(settings) -> int:
    bus = await connect_bus(settings, name="test")
    try:
        events, _ = scenario()
        await bus.publish_many(events)
        await eventually(lambda: _lag_is_zero(bus))
        return len(events)
    finally:
        await bus.close()


async def reports(http, svc) -> dict[str, dict]:
    out = {}
    for tenant in ("acme", "globex"):
        status, body = await get(http, f"{svc.url}/v1/reports/{tenant}", **MARCH)
        assert status == 200
        body.pop("generated_at")
        out[tenant] = body
    return out


async def test_rebuild_from_the_stream_reproduces_the_live_figures(settings, start, http):
    svc = await start("reporting", settings)
    published = await publish_scenario(settings)
    live = await reports(http, svc)
    assert live["acme"]["incidents"] == 2  # the scenario's figures are there to be reproduced

    conn = await asyncpg.connect(settings.database_url)
    try:
        # Damage the ledger: lose every incident event (as if restored from an old backup).
        lost = await conn.execute("DELETE FROM reporting.ledger WHERE type LIKE 'incident.%'")
        assert int(lost.split()[-1]) > 0
        assert (await reports(http, svc)) != live

        result = await rebuild(settings)
        on_stream = published + 1  # and the first start's config.applied (version 1)
        assert (result.replayed, result.rejected, result.carried_over, result.ledger_rows) == (
            on_stream, 0, 0, on_stream,
        )  # fmt: skip
        assert await reports(http, svc) == live
        # A row the stream no longer holds (older than its retention) is kept, not lost.
        await conn.execute(
            "INSERT INTO reporting.ledger(event_id, tenant, type, occurred_at, data)"
            " VALUES ('ancient', 'acme', 'alert.received', '2020-01-01', '{}')"
        )
        again = await rebuild(settings)
        assert (again.carried_over, again.ledger_rows) == (1, on_stream + 1)
        assert await conn.fetchval("SELECT count(*) FROM reporting.ledger WHERE event_id = 'ancient'") == 1
    finally:
        await conn.close()


async def test_one_rebuild_at_a_time(settings, start):
    await start("reporting", settings)  # creates the schema
    holder = await asyncpg.connect(settings.database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", store.REBUILD_LOCK)
        with pytest.raises(store.RebuildRunning):
            await rebuild(settings)
    finally:
        await holder.close()


async def test_cli_rebuild_against_given_urls(settings, start, http):
    svc = await start("reporting", settings)
    published = await publish_scenario(settings)
    live = await reports(http, svc)
    env = {
        **os.environ,
        "TIERLINE_NATS_URL": settings.nats_url,
        "TIERLINE_DATABASE_URL": settings.database_url,
        "TIERLINE_BUS_PREFIX": settings.bus_prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        str(TIERLINE), "reporting", "rebuild", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert f"{published + 1} events replayed" in out.decode()  # and the first start's config.applied
    assert await reports(http, svc) == live


async def test_cli_without_a_stack_says_how_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERLINE_")} | {"TIERLINE_DATA_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        str(TIERLINE), "reporting", "rebuild", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 1 and "make run" in err.decode()


async def test_a_stream_far_larger_than_a_batch_replays_whole_while_the_database_is_slow(settings, start, monkeypatch):
    """The chaos suite's rebuild of ~100,000 events stalled: a push subscription overran its pending limit while the
    inserts ran, the client dropped messages and the replay timed out. Small batches and a slow insert show it."""
    from services.reporting import rebuild as module

    await start("reporting", settings)  # creates the schema and the first config.applied
    # A second apart, so each has its own alert id (and envelope id), as 1,200 different alerts.
    alerts = [alert(utc(2026, 3, 2) + timedelta(seconds=n)) for n in range(1200)]
    bus = await connect_bus(settings, name="test")
    try:
        await bus.publish_many(alerts)
    finally:
        await bus.close()
    append = store.append

    async def slow_append(conn, *, entries, table):  # a loaded database: each batch's insert takes a while
        await asyncio.sleep(0.02)
        await append(conn, entries=entries, table=table)

    monkeypatch.setattr(module, "BATCH", 40)
    monkeypatch.setattr(module.store, "append", slow_append)
    result = await rebuild(settings)
    assert (result.replayed, result.rejected) == (len(alerts) + 1, 0)  # and the config.applied
    assert result.ledger_rows == len(alerts) + 1
