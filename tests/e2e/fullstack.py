"""Every service and the console in this process on real NATS and PostgreSQL, and the gateway in front of them
(`tierline up`'s one base URL): for the tests that walk every route of every router (OpenAPI, fuzz, walls)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web

from libs.gateway import create_gateway, routes_of
from libs.localstack import free_port
from libs.settings import Settings
from libs.testing import RunningService, Servers, drop_database, fresh_database, fresh_settings
from libs.web import Runner
from services.registry import REGISTRY
from tests.conftest import TEST_CONFIG

BACKENDS = ("intake", "triage", "escalation", "change", "reporting")


def calm_config(tmp: Path) -> Path:
    """The test config with no clock or escalation step due within the test (hours, not seconds), so the stack
    changes only when a request changes it."""
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    for tenant in cfg["tenants"]:
        tenant["contract"]["sla"] = {p: {"respond": "4h", "resolve": "8h"} for p in ("P1", "P2", "P3", "P4", "P5")}
        tenant["escalation"] = {"steps": [{"tier": 1, "after": "4h"}, {"tier": 2, "after": "5h"}]}
    path = tmp / "calm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@dataclass
class FullStack:
    settings: Settings
    services: dict[str, RunningService]  # the five and the console, by name
    gateway: str  # its base URL


@contextlib.asynccontextmanager
async def full_stack(servers: Servers, config: Path) -> AsyncIterator[FullStack]:
    db_url, name = await fresh_database(servers.admin_db_url)
    settings = fresh_settings(servers, db_url, config)
    started: list[RunningService] = []
    runner: web.AppRunner | None = None
    try:
        for n in BACKENDS:
            started.append(await RunningService(REGISTRY.spec(n), settings).start())
        urls = {s.name: s.url for s in started}
        mine = settings.model_copy(update={"api_urls": urls, "console_secret": "console-test-secret"})
        started.append(await RunningService(REGISTRY.spec("console"), mine).start())
        routes = routes_of([s.spec for s in started], instance=settings.instance_id)
        for svc in started:
            routes.set(svc.name, svc.port)
        runner = Runner(create_gateway(routes), handle_signals=False)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield FullStack(settings, {s.name: s for s in started}, f"http://127.0.0.1:{port}")
    finally:
        if runner is not None:
            await runner.cleanup()
        for svc in reversed(started):
            await svc.stop()
        await drop_database(servers.admin_db_url, name)
