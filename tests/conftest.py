"""Real NATS JetStream and PostgreSQL for every test: started once per session (or taken from
TIERLINE_NATS_URL / TIERLINE_DATABASE_URL), with a fresh database and fresh stream names per test."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from libs.config import load_config
from libs.settings import Settings
from libs.testing import RunningService, Servers, drop_database, fresh_database, fresh_settings, servers
from services.registry import REGISTRY

FIXTURES = Path(__file__).parent / "fixtures"
TEST_CONFIG = FIXTURES / "tierline.yaml"
SIGNALS_CONFIG = FIXTURES / "signals.yaml"  # heartbeats, backups, restore tests, controls (docs/heartbeats.md)


@pytest.fixture(scope="session")
async def real_servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    async with servers(tmp_path_factory.mktemp("stack")) as srv:
        yield srv


@pytest.fixture
async def settings(real_servers: Servers) -> AsyncIterator[Settings]:
    db_url, name = await fresh_database(real_servers.admin_db_url)
    yield fresh_settings(real_servers, db_url, TEST_CONFIG)
    await drop_database(real_servers.admin_db_url, name)


@pytest.fixture
async def signal_settings(real_servers: Servers) -> AsyncIterator[Settings]:
    """As `settings`, with the heartbeats-and-controls config (tests/fixtures/signals.yaml)."""
    db_url, name = await fresh_database(real_servers.admin_db_url)
    yield fresh_settings(real_servers, db_url, SIGNALS_CONFIG)
    await drop_database(real_servers.admin_db_url, name)


@pytest.fixture
def config():
    return load_config(TEST_CONFIG)


@pytest.fixture
async def start() -> AsyncIterator[Callable[..., Awaitable[RunningService]]]:
    """start(name, settings) -> a running service; all are stopped at the end of the test."""
    running: list[RunningService] = []

    async def _start(name: str, settings: Settings) -> RunningService:
        svc = await RunningService(REGISTRY.spec(name), settings).start()
        running.append(svc)
        return svc

    yield _start
    for svc in reversed(running):
        await svc.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, interval: float = 0.05, why: Path | None = None
) -> Any:
    """Poll `check` until it returns a truthy value (returned) or raise AssertionError with the last result."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    tail = f"\n--- {why} ---\n{why.read_text()[-4000:]}" if why and why.exists() else ""
    raise AssertionError(f"condition not met within {timeout}s; last result: {last!r}{tail}")


async def config_version(http: aiohttp.ClientSession, svc: Any, version: int) -> bool:
    """Whether the service (a RunningService, or anything with `url`) runs configuration `version` or a later one."""
    async with http.get(f"{svc.url}/readyz") as r:
        return (await r.json()).get("config_version", 0) >= version


# Headless Debian Chromium, quiet and offline: for the report render test and the console's browser tests.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
NO_CHROMIUM = "no Chromium: `make test` installs Debian's chromium when it can; or set TIERLINE_CHROMIUM"


def chromium() -> str | None:
    """The system's Chromium (TIERLINE_CHROMIUM, else chromium on PATH), or None."""
    return os.environ.get("TIERLINE_CHROMIUM") or next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
