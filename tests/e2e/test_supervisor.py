"""`tierline up` keeps the stack up and tells the truth: it restarts a killed nats-server or PostgreSQL, and after
a service dies it neither routes to whatever took its old port nor reports ready while the service is away."""

from __future__ import annotations

import asyncio
import os
import signal

import psutil
import pytest
from aiohttp import web

from tests.conftest import TEST_CONFIG, auth, eventually
from tests.e2e.test_stack import incidents, ready, service_pids, stop, tierline_up, up_env

pytestmark = pytest.mark.slow


def _named(child: psutil.Process) -> str | None:
    try:
        return child.name()
    except psutil.NoSuchProcess:  # a child that ended between the listing and the look (the killed server)
        return None


def server_pid(parent: int, binary: str) -> int:
    [pid] = [c.pid for c in psutil.Process(parent).children() if _named(c) == binary]
    return pid


async def alert(http, url: str, n: int) -> int:
    body = {"summary": f"ERP database down {n}", "severity": "critical", "service": "erp-db"}
    try:
        async with http.post(f"{url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": "acme-key"}) as r:
            return r.status
    except Exception:
        return 0


async def test_killed_nats_and_postgres_are_restarted(tmp_path, http):
    log = tmp_path / "up.log"
    proc, url = await tierline_up(up_env(tmp_path, TEST_CONFIG), log)
    try:
        await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=log)
        for n, binary in enumerate(("nats-server", "postgres"), start=1):
            old = server_pid(proc.pid, binary)
            os.kill(old, signal.SIGKILL)
            await eventually(lambda old=old, b=binary: _replaced(proc.pid, b, old), timeout=60, why=log)
            await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=log)
            await eventually(lambda n=n: _accepted(http, url, n), timeout=30, interval=0.3, why=log)
        items = await eventually(lambda: _incidents(http, url, 2), timeout=30, why=log)
        assert len(items) == 2
    finally:
        await stop(proc)
    assert proc.returncode == 0


class Stranger:
    """A process that took the dead service's port: 200 "ready" to anything; notes every bearer token it gets."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:
            self.tokens.append(request.headers["Authorization"])
        return web.json_response({"status": "ready", "service": "triage", "items": []})


async def test_a_stranger_on_a_dead_services_port_is_never_routed_to(tmp_path, http):
    log = tmp_path / "up.log"
    proc, url = await tierline_up(up_env(tmp_path, TEST_CONFIG), log)
    stranger = Stranger()
    runner = web.AppRunner(_app(stranger))
    await runner.setup()
    try:
        await eventually(lambda: ready(http, url), timeout=90, interval=0.2, why=log)
        [triage] = service_pids(proc.pid, "triage")
        [old_port] = [c.laddr.port for c in psutil.Process(triage).net_connections("tcp") if c.status == "LISTEN"]
        os.kill(triage, signal.SIGKILL)
        await eventually(lambda: _bind(runner, old_port), timeout=10, interval=0.01)

        lies: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while loop.time() < deadline:  # until the real triage is back, keep asking through the gateway
            async with http.get(f"{url}/v1/incidents", headers=auth("admin-token")) as r:
                listed = r.status
            async with http.get(f"{url}/readyz") as r:
                body = await r.json()
                if r.status == 200 and body["services"]["triage"].get("port", old_port) == old_port:
                    lies.append(body)
            if listed == 200 and r.status == 200:
                break
            await asyncio.sleep(0.1)
        assert listed == 200, "triage never came back behind the gateway"
        assert stranger.tokens == []  # no request, no bearer token, reached the stranger
        assert lies == []  # /readyz never called the stranger triage
        assert await alert(http, url, 1) == 202
        await eventually(lambda: incidents(http, url), timeout=30)
    finally:
        await runner.cleanup()
        await stop(proc)


def _app(stranger: Stranger) -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stranger.handle)
    return app


async def _bind(runner: web.AppRunner, port: int) -> bool:
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return True
    except OSError:
        return False


async def _replaced(parent: int, binary: str, old: int) -> bool:
    try:
        return server_pid(parent, binary) != old
    except ValueError:
        return False


async def _accepted(http, url: str, n: int) -> bool:
    return await alert(http, url, n) == 202


async def _incidents(http, url: str, count: int) -> list[dict] | None:
    items = await incidents(http, url)
    return items if len(items) >= count else None
