"""Our own PostgreSQL is sized for a laptop, and a person can size it otherwise; a service's pool gives back the
connections a burst opened once they sit idle (each one is a PostgreSQL backend and its memory)."""

from __future__ import annotations

import asyncio

import asyncpg

from libs import db
from libs.localstack import LocalPostgres
from libs.settings import Settings
from tests.conftest import eventually


async def _show(url: str, *names: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [await conn.fetchval(f"SHOW {n}") for n in names]
    finally:
        await conn.close()


async def test_own_postgres_is_laptop_sized_and_takes_a_persons_settings(tmp_path):
    pg = LocalPostgres()
    url = await pg.start(tmp_path / "pg", fast=True)
    try:
        assert await _show(url, "shared_buffers", "max_connections", "work_mem") == ["32MB", "200", "4MB"]
        await pg.stop()
        pg = LocalPostgres()
        url = await pg.start(tmp_path / "pg", fast=True, settings={"shared_buffers": "48MB", "work_mem": "8MB"})
        assert await _show(url, "shared_buffers", "max_connections", "work_mem") == ["48MB", "200", "8MB"]
        pg.proc.kill()  # type: ignore[union-attr]  # a restart after a crash keeps them
        await pg.proc.wait()  # type: ignore[union-attr]
        await pg.restart()
        assert await _show(url, "shared_buffers", "work_mem") == ["48MB", "8MB"]
    finally:
        await pg.stop()


def test_local_postgres_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TIERLINE_LOCAL_POSTGRES_SETTINGS", '{"shared_buffers": "256MB"}')
    assert Settings().local_postgres_settings == {"shared_buffers": "256MB"}


async def test_a_pool_closes_the_connections_a_burst_opened_once_idle(settings, monkeypatch):
    monkeypatch.setattr(db, "IDLE_CONNECTION_S", 0.5)
    pool = await db.create_pool(settings.database_url, schema="burst")
    try:

        async def backends() -> int:
            return int(
                await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tierline-burst'"
                    " AND datname = current_database()"
                )
            )

        async def hold() -> None:
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_sleep(0.3)")

        await asyncio.gather(*(hold() for _ in range(5)))
        assert await backends() == 5
        assert await eventually(lambda: _at_most(backends, 1), timeout=30)
    finally:
        await pool.close()


async def _at_most(count, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await count() <= n
