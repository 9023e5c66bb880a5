"""Console benchmark: the queue page of a tenant with 5,000 open incidents rendered server-side, and what 200
connected browser tabs (SSE streams) cost intake.

Starts its own nats-server and PostgreSQL, the five services and the console in their own processes (the
console reaching the APIs by their ports, as in compose), opens 5,000 incidents for Acme through intake,
then times queue renders (each one: the incident list API, escalation's clocks for the rows, the template)
and, in the same run, bursts of new alerts with 0 and with 200 SSE clients connected, alternating.

    make bench-console
    .venv/bin/python -m bench.console --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import nats

from bench.cpu import CpuMeter
from bench.loadgen import notification
from bench.ready import pct, start_servers, supervised, wait_ready
from libs.supervisor import ServiceProcess
from services.registry import NAMES as SERVICE_NAMES

CONFIG = Path(__file__).resolve().parent.parent / "tierline.yaml"
KEY, TOKEN = "demo-acme-key", "demo-engineer-token"
QUEUE = "/console/queue?tenant=acme&view=1"


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(limit=512))


async def post_alerts(http: aiohttp.ClientSession, intake: str, total: int, per_request: int = 100) -> float:
    """`total` new alerts as Alertmanager notifications, 16 requests in flight; returns accepted alerts/s."""
    gate, t0 = asyncio.Semaphore(16), time.perf_counter()

    async def one() -> None:
        async with gate, http.post(f"{intake}/v1/webhooks/alertmanager", json=notification(per_request),
                                   headers={"Authorization": f"Bearer {KEY}"}) as r:  # fmt: skip
            assert r.status == 202, await r.text()

    await asyncio.gather(*(one() for _ in range(total // per_request)))
    return total / (time.perf_counter() - t0)


async def open_incidents(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT count(*) FROM triage.incidents WHERE state NOT IN ('resolved', 'closed')")


async def sign_in(http: aiohttp.ClientSession, console: str) -> None:
    async with http.get(f"{console}/console/login") as r:
        nonce = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)  # type: ignore[union-attr]
    async with http.post(f"{console}/console/login", data={"token": TOKEN, "csrf": nonce}) as r:
        assert r.status == 200, r.status


async def renders(http: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with http.get(url) as r:
            await r.read()
            assert r.status == 200, r.status
        out.append((time.perf_counter() - t0) * 1000)
    return out


class Tabs:
    """`n` browser tabs: signed-in sessions (signed in once), each reading its SSE stream while connected and
    counting the updates it gets."""

    def __init__(self, console: str, n: int) -> None:
        self.console, self.n, self.updates = console, n, 0
        self.sessions: list[aiohttp.ClientSession] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def sign_in(self) -> None:
        for _ in range(self.n):
            http = client()
            await sign_in(http, self.console)
            self.sessions.append(http)

    async def read(self, http: aiohttp.ClientSession, connected: asyncio.Event) -> None:
        async with http.get(f"{self.console}/console/events", headers={"Accept": "text/event-stream"},
                            timeout=aiohttp.ClientTimeout(total=None)) as r:  # fmt: skip
            connected.set()
            async for line in r.content:
                if line.startswith(b"event: update"):
                    self.updates += 1

    async def connect(self) -> None:
        self.updates = 0
        events = [asyncio.Event() for _ in self.sessions]
        self.tasks = [asyncio.create_task(self.read(h, e)) for h, e in zip(self.sessions, events, strict=True)]
        await asyncio.gather(*(e.wait() for e in events))

    async def disconnect(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()


async def burst(http, intake: str, seen: list[int], alerts: int, cpu: CpuMeter) -> dict[str, float]:
    """New alerts as fast as intake takes them: accepted/s, and incidents committed/s (seen on the bus)."""
    before, t0 = seen[0], time.perf_counter()
    cpu.start()
    accepted = await post_alerts(http, intake, alerts, per_request=10)
    while seen[0] - before < alerts and time.perf_counter() - t0 < 60:
        await asyncio.sleep(0.02)
    wall, used = cpu.stop()
    usage = {f"{n} %": f"{s / wall * 100:.0f}" for n, s in used.items()}
    return {"accepted/s": accepted, "committed/s": (seen[0] - before) / (time.perf_counter() - t0), **usage}


@dataclass
class Bench:
    http: aiohttp.ClientSession
    procs: dict[str, ServiceProcess]
    urls: dict[str, str]
    db: asyncpg.Connection
    cpu: CpuMeter
    seen: list[int]  # incidents opened, as seen on the bus


async def start(stack: AsyncExitStack) -> Bench:
    """Servers, the six services in their own processes, a database probe and a bus counter."""
    nats_srv, pg, nats_url, db_url = await start_servers(stack, Path(tempfile.mkdtemp(prefix="tierline-bench-")))
    env = {**os.environ, "TIERLINE_NATS_URL": nats_url, "TIERLINE_DATABASE_URL": db_url,
           "TIERLINE_CONFIG": str(CONFIG), "TIERLINE_LOG_LEVEL": "warning"}  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="tierline-bench-console-"))
    (tmp / "apis").mkdir()
    (tmp / "console").mkdir()
    apis = [n for n in SERVICE_NAMES if n != "console"]
    ports, backends = await supervised(stack, apis, env, tmp / "apis")
    apis_env = {"TIERLINE_API_URLS": json.dumps({n: f"http://127.0.0.1:{p}" for n, p in ports.items()}),
                "TIERLINE_CONSOLE_SECRET": uuid.uuid4().hex}  # fmt: skip
    console_port, console = await supervised(stack, ["console"], env | apis_env, tmp / "console")
    ports |= console_port
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    procs = dict(zip([*apis, "console"], [*backends, *console], strict=True))
    http = await stack.enter_async_context(client())
    await wait_ready(http, ports.values())
    db = await asyncpg.connect(db_url)
    stack.push_async_callback(db.close)
    nc = await nats.connect(nats_url)
    stack.push_async_callback(nc.close)
    seen = [0]

    async def on_opened(_msg) -> None:  # type: ignore[no-untyped-def]
        seen[0] += 1

    await nc.subscribe("tierline.incident.opened.*", cb=on_opened)
    cpu = CpuMeter({n: procs[n] for n in ("intake", "triage", "console")}, nats_srv, pg)
    return Bench(http, procs, urls, db, cpu, seen)


async def queue_renders(b: Bench, target: int, n: int) -> None:
    await post_alerts(b.http, b.urls["intake"], target)
    deadline = time.time() + 120
    while await open_incidents(b.db) < target and time.time() < deadline:
        await asyncio.sleep(0.2)
    while time.time() < deadline and await b.db.fetchval("SELECT count(*) FROM escalation.sla_clocks") < 2 * target:
        await asyncio.sleep(0.2)
    open_now = await open_incidents(b.db)
    await sign_in(b.http, b.urls["console"])
    await renders(b.http, f"{b.urls['console']}{QUEUE}", 10)  # warm up
    page_ms = await renders(b.http, f"{b.urls['console']}{QUEUE}", n)
    api_ms = await renders_api(b.http, b.urls["triage"], n)
    print(f"\nqueue page of acme, {open_now} open incidents, 50 rows a page, {n} renders each:\n")
    print("| what | p50 ms | p99 ms | max ms |\n|---|---|---|---|")
    for name, ms in (("console queue page (list API + clocks + template)", page_ms),
                     ("triage list API alone (same query)", api_ms)):  # fmt: skip
        print(f"| {name} | {pct(ms, 50):.1f} | {pct(ms, 99):.1f} | {max(ms):.1f} |")


async def fan_out(b: Bench, alerts: int, rounds: int, clients: int = 200) -> None:
    tabs = Tabs(b.urls["console"], clients)
    await tabs.sign_in()
    rows = []
    for round_ in range(rounds):
        for connected in (0, clients):
            if connected:
                await tabs.connect()
            result = await burst(b.http, b.urls["intake"], b.seen, alerts, b.cpu)
            await asyncio.sleep(0.5)  # the last flush reaches the tabs
            got = tabs.updates if connected else 0
            if connected:
                await tabs.disconnect()
            rows.append({"round": round_ + 1, "SSE clients": connected, **result, "updates received": got})
    await tabs.close()
    print(f"\nSSE fan-out: bursts of {alerts} new alerts (Alertmanager, 10 per request), alternating:\n")
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{v:.0f}" if isinstance(v, float) else str(v) for v in r.values()) + " |")

    def ratio(key: str) -> float:
        return pct([r[key] for r in rows if r["SSE clients"]], 50) / pct(
            [r[key] for r in rows if not r["SSE clients"]], 50
        )

    print(f"\nmedian with {clients} clients / none: accepted/s x{ratio('accepted/s'):.2f}, committed/s "
          f"x{ratio('committed/s'):.2f}")  # fmt: skip


async def main(quick: bool) -> None:
    async with AsyncExitStack() as stack:
        b = await start(stack)
        await queue_renders(b, 1000 if quick else 5000, 50 if quick else 300)
        await fan_out(b, 1000 if quick else 5000, 2 if quick else 3)


async def renders_api(http: aiohttp.ClientSession, triage: str, n: int) -> list[float]:
    url = f"{triage}/v1/incidents?tenant=acme&tier=1&state=open&limit=50"
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            await r.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 incidents, fewer renders and bursts")
    asyncio.run(main(parser.parse_args().quick))
