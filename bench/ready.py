"""Shared by the benchmarks: their own NATS and PostgreSQL, and waiting until services answer /readyz."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import yaml

from libs.gateway import routes_of
from libs.localstack import LocalNats, LocalPostgres
from libs.settings import Settings
from libs.supervisor import ServiceProcess
from services.registry import REGISTRY


async def supervised(
    stack: AsyncExitStack, names: Iterable[str], env: dict[str, str], tmp: Path
) -> tuple[dict[str, int], list[ServiceProcess]]:
    """The named services in their own supervised processes (as `tierline up` runs them); returns their ports,
    once each has reported the one it bound, and the processes (in `names` order)."""
    routes = routes_of([REGISTRY.spec(n) for n in names], instance="bench")
    env = env | {"TIERLINE_INSTANCE_ID": routes.instance}
    procs = [ServiceProcess(n, env, routes, tmp) for n in routes.services]
    tasks = [asyncio.create_task(p.supervise()) for p in procs]

    async def stop_all() -> None:
        await asyncio.gather(*(p.stop() for p in procs))
        for t in tasks:
            t.cancel()

    stack.push_async_callback(stop_all)
    for _ in range(600):
        if len(routes.ports) == len(routes.services):
            break
        await asyncio.sleep(0.1)
    return dict(routes.ports), procs


async def wait_ready(http: aiohttp.ClientSession, ports: Iterable[int], *, attempts: int = 300) -> None:
    for port in ports:
        for _ in range(attempts):
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def start_servers(stack: AsyncExitStack, tmp: Path) -> tuple[LocalNats, LocalPostgres, str, str]:
    """A fresh nats-server and PostgreSQL under `tmp`, stopped with `stack`: (nats, pg, nats_url, db_url)."""
    nats_srv, pg = LocalNats(), LocalPostgres()
    nats_url = await nats_srv.start(tmp / "nats")
    stack.push_async_callback(nats_srv.stop)
    db_url = await pg.start(tmp / "postgres", settings=Settings().local_postgres_settings)  # as `tierline up`
    stack.push_async_callback(pg.stop)
    return nats_srv, pg, nats_url, db_url


DEMO_CONFIG = Path(__file__).resolve().parent.parent / "tierline.yaml"


def bench_env(tmp: Path, nats_url: str, db_url: str) -> dict[str, str]:
    """The environment the benchmarks start the services with: the servers they started, the bench config."""
    return {**os.environ, "TIERLINE_NATS_URL": nats_url, "TIERLINE_DATABASE_URL": db_url,
            "TIERLINE_CONFIG": str(bench_config(tmp)), "TIERLINE_LOG_LEVEL": "warning"}  # fmt: skip


def bench_config(tmp: Path) -> Path:
    """The demo tierline.yaml without paging, written under `tmp`: no SMTP relay, people or schedules, and
    escalation steps that notify nobody. (The demo pages its NOC schedule by e-mail through 127.0.0.1:8025,
    where nothing listens in a benchmark: escalation would spend the run retrying those sends.)"""
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    for key in ("smtp", "people", "schedules"):
        config["provider"].pop(key, None)
    for tenant in config["tenants"]:
        for step in tenant.get("escalation", {}).get("steps", []):
            step["notify"] = []
    path = tmp / "tierline-bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]
