"""Pipeline benchmark: webhook -> incident committed, on the local stack, at several offered loads.

Starts its own nats-server and PostgreSQL (durable settings, as `tierline up`), the five services in their
own processes, and an open-loop load generator in this process. Latency runs from the moment a request
was due to be sent until its incident event (published by triage's outbox after the commit) is seen on
NATS. Prints one table row per step, with the CPU share of each process group (100 % = one core).

    make bench                      # full run (~3 minutes)
    .venv/bin/python -m bench.pipeline --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import nats

from bench.cpu import CpuMeter
from bench.ready import start_servers, supervised, wait_ready
from services.registry import NAMES as SERVICE_NAMES

CONFIG = Path(__file__).resolve().parent.parent / "tierline.yaml"
KEY = "demo-acme-key"


class Load:
    """Open-loop generator: requests are due on a fixed schedule whether or not earlier ones finished."""

    def __init__(self, http: aiohttp.ClientSession, url: str, seen: dict[str, float]) -> None:
        self.http, self.url, self.seen = http, url, seen
        self.due: dict[str, float] = {}
        self.status: dict[int, int] = {}
        self.inflight = asyncio.Semaphore(256)

    async def one(self, path: str, body: dict, due: float) -> None:
        async with self.inflight:
            try:
                async with self.http.post(f"{self.url}{path}", json=body, headers={"X-Tierline-Key": KEY}) as r:
                    self.status[r.status] = self.status.get(r.status, 0) + 1
                    if r.status == 202:
                        answer = await r.json()
                        for alert in answer.get("alerts", [answer]):
                            self.due[alert["alert_id"]] = due
            except aiohttp.ClientError:
                self.status[0] = self.status.get(0, 0) + 1

    async def run(self, rate: float, seconds: float, mix: str, repeat_keys: list[str]) -> float:
        """`rate` is alerts per second; an Alertmanager step (am1, am10, am100) sends that many per request."""
        per = int(mix[2:]) if mix.startswith("am") else 1
        tasks, start, n, i = [], time.time(), int(rate * seconds / per), 0
        while i < n:
            now = time.time()
            while i < n and start + i * per / rate <= now:
                due = start + i * per / rate
                if per > 1 or mix.startswith("am"):
                    tasks.append(asyncio.create_task(self.one("/v1/webhooks/alertmanager", notification(per), due)))
                else:
                    new = mix == "new" or (mix == "mix" and i % 2 == 0)
                    key = uuid.uuid4().hex if new else repeat_keys[i % len(repeat_keys)]
                    # `seq` makes every request a new delivery (identical content would be a retry, stored once)
                    body = {"summary": f"bench {key}", "severity": "error", "service": "erp-db", "dedup_key": key,
                            "labels": {"seq": str(i)}}  # fmt: skip
                    tasks.append(asyncio.create_task(self.one("/v1/webhooks/generic", body, due)))
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        return time.time() - start


def notification(alerts: int) -> dict:
    """An Alertmanager v4 notification with `alerts` new firing alerts (each opens an incident)."""
    now = datetime.now(UTC).isoformat()
    return {
        "version": "4", "groupKey": "{}:{alertname=\"BenchDown\"}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "tierline", "groupLabels": {"alertname": "BenchDown"}, "commonLabels": {"service": "erp-db"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "BenchDown", "instance": f"host-{k}", "severity": "error",
                                            "service": "erp-db"},
             "annotations": {"summary": "bench"}, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": uuid.uuid4().hex[:16]}
            for k in range(alerts)
        ],
    }  # fmt: skip


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def step(http, base, seen, stamps, cpu, rate, seconds, mix, repeat_keys) -> dict[str, object]:
    load = Load(http, base, seen)
    cpu.start()
    t0 = time.time()
    await load.run(rate, seconds, mix, repeat_keys)
    deadline = time.time() + 30
    while time.time() < deadline and any(a not in seen for a in load.due):
        await asyncio.sleep(0.05)
    elapsed = max(seen.get(a, 0) for a in load.due) - t0 if load.due else 0.0
    usage = cpu.stop()
    lat = [(seen[a] - d) * 1000 for a, d in load.due.items() if a in seen]
    done = len(lat)
    # Where the time goes (p50): HTTP to intake's stamp; bus + fetch + handling up to the event's creation;
    # commit + outbox relay + NATS to the observer.
    parts = [
        (stamps[a][0] - d, stamps[a][1] - stamps[a][0], seen[a] - stamps[a][1])
        for a, d in load.due.items()
        if a in stamps
    ]
    split = "/".join(f"{pct([p[k] * 1000 for p in parts], 50):.0f}" for k in range(3))
    return {
        "mix": mix,
        "offered/s": rate,  # alerts
        "requests/s": round(rate / (int(mix[2:]) if mix.startswith("am") else 1), 1),
        "accepted": len(load.due),
        "rejected": sum(v for k, v in load.status.items() if k != 202),
        "committed/s": round(done / elapsed) if elapsed else 0,
        "lost": len(load.due) - done,
        "p50 ms": round(pct(lat, 50), 1),
        "p99 ms": round(pct(lat, 99), 1),
        "p50 split ms": split,
        **usage,
    }


async def main(quick: bool, only: list[tuple[str, int]] | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tierline-bench-"))
    async with AsyncExitStack() as stack:
        nats_srv, pg, nats_url, db_url = await start_servers(stack, tmp)
        env = {
            **os.environ,
            "TIERLINE_NATS_URL": nats_url,
            "TIERLINE_DATABASE_URL": db_url,
            "TIERLINE_CONFIG": str(CONFIG),
            "TIERLINE_LOG_LEVEL": "warning",
        }
        ports, procs = await supervised(stack, SERVICE_NAMES, env, tmp)
        http = await stack.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)))
        await wait_ready(http, ports.values())
        seen: dict[str, float] = {}
        stamps: dict[str, tuple[float, float]] = {}
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.close)

        async def on_incident(msg) -> None:  # type: ignore[no-untyped-def]
            event = json.loads(msg.data)
            alert_id = event["data"].get("alert_id")
            if alert_id and alert_id not in seen:
                seen[alert_id] = time.time()
                # when intake stamped the alert, and when triage built the incident event (before its commit)
                stamps[alert_id] = (
                    _ts(event["data"].get("last_seen") or event["data"]["opened_at"]),
                    _ts(event["time"]),
                )

        await nc.subscribe("tierline.incident.*.*", cb=on_incident)
        cpu = CpuMeter(
            {"intake": procs[0], "triage": procs[1], "escalation": procs[2], "change": procs[3], "reporting": procs[4]},
            nats_srv,
            pg,
        )
        base = f"http://127.0.0.1:{ports['intake']}"
        repeat_keys = [f"open-{i}" for i in range(200)]
        await step(http, base, seen, stamps, cpu, 200, 2, "repeat", repeat_keys)  # warm up, open the repeat keys
        secs = 4 if quick else 10
        plan = [
            ("new", 500),
            ("new", 750),
            ("new", 1500),
            ("new", 2000),
            ("repeat", 750),
            ("repeat", 1500),
            ("mix", 750),
            ("mix", 1500),
            ("am1", 750),
            ("am10", 750),
            ("am100", 750),
            ("am10", 1500),
            ("am100", 1500),
        ]
        if quick:
            plan = [("new", 750), ("repeat", 750), ("mix", 1500), ("am10", 750), ("am100", 1500)]
        if only:
            plan = only
        rows = [await step(http, base, seen, stamps, cpu, r, secs, m, repeat_keys) for m, r in plan]
        print_table(rows)


def steps_arg(text: str) -> list[tuple[str, int]]:
    mixes = {"new", "repeat", "mix", "am1", "am10", "am100"}
    plan = []
    for item in text.split(","):
        mix, _, rate = item.partition(":")
        if mix not in mixes or not rate.isdigit():
            raise argparse.ArgumentTypeError(f"{item!r}: want MIX:RATE with MIX one of {sorted(mixes)}")
        plan.append((mix, int(rate)))
    return plan


def print_table(rows: list[dict[str, object]]) -> None:
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print(f"\nTierline pipeline benchmark ({os.cpu_count()} cores; CPU % of one core over each step)")
    print("| " + " | ".join(c.ljust(widths[c]) for c in cols) + " |")
    print("|" + "|".join("-" * (widths[c] + 2) for c in cols) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[c]).ljust(widths[c]) for c in cols) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="five short steps instead of the full table")
    parser.add_argument(
        "--steps", type=steps_arg, default=None, help="only these steps, e.g. new:750,am10:1500 (for A/B runs)"
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args.quick, args.steps))
