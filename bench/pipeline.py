"""Pipeline benchmark: webhook -> incident committed, on the local stack, at several offered loads.

Starts its own nats-server and PostgreSQL (durable settings, as `tierline up`), the five services in their
own processes with the demo configuration less its paging (`bench.ready.bench_config`), and for each step
an open-loop load generator in its own process (`bench/loadgen.py`). Latency runs from the moment a
request was due to be sent until its incident event (published by triage's outbox after the commit) is
seen on NATS. Prints one table row per step: the CPU each process group of the stack spent per accepted
alert (ms), their total, the total as % of one core, and the load generator's % (not in the total).

    make bench                      # full run (~3 minutes)
    .venv/bin/python -m bench.pipeline --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg
import nats

from bench.cpu import CpuMeter, columns
from bench.profile import record, statements, table, track_statements
from bench.ready import bench_env, pct, start_servers, supervised, wait_ready
from bench.scale import report_times, seed_ledger, seed_open_incidents, stack_memory
from services.registry import NAMES as SERVICE_NAMES

KEY = "demo-acme-key"


async def send(base: str, mix: str, rate: float, seconds: float, cpu: CpuMeter) -> dict:
    """One step's load from its own process (bench/loadgen.py); the CPU meter runs from its first request."""
    gen = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.loadgen", base, KEY, mix, str(rate), str(seconds),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28,
    )  # fmt: skip
    assert gen.stdin and gen.stdout
    await gen.stdout.readline()  # "ready"
    cpu.start()
    gen.stdin.write(b"go\n")
    await gen.stdin.drain()
    result = json.loads(await gen.stdout.readline())
    await gen.wait()
    return result


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def commits(db) -> int:
    return await db.fetchval("SELECT sum(xact_commit)::bigint FROM pg_stat_database")


async def step(base, seen, stamps, cpu, db, rate, seconds, mix, profile: Path | None = None) -> dict[str, object]:
    tx0 = await commits(db)
    if profile:
        await db.execute("SELECT pg_stat_statements_reset()")
    spies = []
    if profile:  # py-spy each service while the load runs (its own CPU lands on no measured process)
        pids = {n: g.proc.pid for n, g in cpu.groups.items() if n in SERVICE_NAMES}
        spies = await record(pids, profile / f"{mix}-{rate}", seconds)
    result = await send(base, mix, rate, seconds, cpu)
    t0, due, status = result["start"], result["due"], {int(k): v for k, v in result["status"].items()}
    # Wait for the backlog, so that the next step neither inherits it nor pays its CPU: up to 120 s.
    deadline = time.time() + 120
    while time.time() < deadline and any(a not in seen for a in due):
        await asyncio.sleep(0.05)
    elapsed = max(seen.get(a, 0) for a in due) - t0 if due else 0.0
    wall, used = cpu.stop()
    await asyncio.sleep(0.6)  # the statistics collector reports at most every 500 ms
    tx = await commits(db) - tx0
    if profile:
        (profile / f"{mix}-{rate}" / "postgres.md").write_text(await statements(db, len(due)))
    for spy in spies:
        await spy.wait()
    lat = [(seen[a] - d) * 1000 for a, d in due.items() if a in seen]
    done = len(lat)
    # Where the time goes (p50): HTTP to intake's stamp; bus + fetch + handling up to the event's creation;
    # commit + outbox relay + NATS to the observer.
    parts = [
        (stamps[a][0] - d, stamps[a][1] - stamps[a][0], seen[a] - stamps[a][1]) for a, d in due.items() if a in stamps
    ]
    split = "/".join(f"{pct([p[k] * 1000 for p in parts], 50):.0f}" for k in range(3))
    return {
        "mix": mix,
        "offered/s": rate,  # alerts
        "requests/s": round(rate / (int(mix[2:]) if mix.startswith("am") else 1), 1),
        "accepted": len(due),
        "rejected": sum(v for k, v in status.items() if k != 202),
        "committed/s": round(done / elapsed) if elapsed else 0,
        "lost": len(due) - done,
        "p50 ms": round(pct(lat, 50), 1),
        "p99 ms": round(pct(lat, 99), 1),
        "p50 split ms": split,
        **columns(wall, used, result["cpu"], len(due)),
        "pg tx/a": f"{tx / len(due):.2f}" if due else "n/a",
        **stack_memory(cpu.pids()),
    }


PLAN = [
    ("new", 500), ("new", 750), ("new", 1000), ("new", 1500), ("new", 2000), ("new", 2500),
    ("repeat", 750), ("repeat", 1500), ("mix", 750), ("mix", 1500),
    ("am1", 750), ("am10", 750), ("am100", 750), ("am10", 1500), ("am100", 1500),
]  # fmt: skip
QUICK = [("new", 1000), ("repeat", 750), ("mix", 1500), ("am10", 750), ("am100", 1500)]


@dataclass
class Running:
    """A benchmark's stack once every service answers ready: their ports and processes, the bench's own database
    connection, the CPU meter over them all, and the URLs the servers run at."""

    ports: dict[str, int]
    procs: list
    db: asyncpg.Connection
    cpu: CpuMeter
    nats_url: str
    db_url: str

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


async def start_stack(stack: AsyncExitStack, tmp: Path, *, code: Path | None = None, profile: bool = False) -> Running:
    """Its own NATS and PostgreSQL in `tmp`, the services from `code` (default this tree), all ready."""
    nats_srv, pg, nats_url, db_url = await start_servers(stack, tmp)
    if profile:
        await track_statements(pg, db_url)
    env = bench_env(tmp, nats_url, db_url)
    here = os.getcwd()
    os.chdir(code or here)  # `python -m services` imports from its working directory first
    try:
        ports, procs = await supervised(stack, SERVICE_NAMES, env, tmp)
    finally:
        os.chdir(here)
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, ports.values())
    db = await asyncpg.connect(db_url)
    stack.push_async_callback(db.close)
    return Running(ports, procs, db, CpuMeter({p.name: p for p in procs}, nats_srv, pg), nats_url, db_url)


async def run_stack(
    plan: list[tuple[str, int]],
    secs: float,
    profile: Path | None = None,
    code: Path | None = None,
    scale: dict[str, object] | None = None,
) -> list[dict[str, object]]:
    """A fresh stack (NATS, PostgreSQL, the five services), a warm-up, then `plan`'s steps; one row each.
    `code`: run the services from that source tree instead of this one (bench.ab's A side). `scale`: a dict
    to fill with the scale steps' figures (bench/scale.py), run after the plan."""
    tmp = Path(tempfile.mkdtemp(prefix="tierline-bench-"))
    async with AsyncExitStack() as stack:
        run = await start_stack(stack, tmp, code=code, profile=profile is not None)
        seen: dict[str, float] = {}
        stamps: dict[str, tuple[float, float]] = {}
        await observe(stack, run.nats_url, seen, stamps)
        db, cpu, base = run.db, run.cpu, run.url("intake")
        await step(base, seen, stamps, cpu, db, 200, 2, "repeat")  # warm up, open the repeat keys
        rows = [await step(base, seen, stamps, cpu, db, r, secs, m, profile) for m, r in plan]
        if scale is not None:
            print_table(rows)  # before the long steps, so a failure there loses nothing
            scale.update(await at_scale(base, run.url("reporting"), seen, stamps, cpu, db))
            scale.update(stack_memory(cpu.pids()))
        return rows


async def at_scale(base: str, reporting: str, seen, stamps, cpu, db) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The same new:1000 step before and after seeding 100,000 open incidents (30 s each), then a tenant-month
    report once the ledger holds 1,000,000 events."""
    out: dict[str, object] = {}
    before = await step(base, seen, stamps, cpu, db, 1000, 30, "new")
    out["seed 100k open s"] = round(await seed_open_incidents(db, 100_000), 1)
    after = await step(base, seen, stamps, cpu, db, 1000, 30, "new")
    for name, row in (("before", before), ("at 100k open", after)):
        for col in ("committed/s", "p50 ms", "p99 ms", "total ms/a", "postgres ms/a"):
            out[f"{name}: {col}"] = row[col]
    print("at scale:", out, flush=True)  # the ledger's seed takes a minute or two
    month, seconds = await seed_ledger(db, 1_000_000)
    out["ledger rows"] = await db.fetchval("SELECT count(*) FROM reporting.ledger")
    out["month's rows"], out["seed ledger s"] = month, round(seconds, 1)
    out.update(await report_times(reporting))
    return out


async def observe(stack: AsyncExitStack, nats_url: str, seen: dict, stamps: dict) -> None:
    """Note when each alert's incident event is seen, and the two stamps it carries."""
    nc = await nats.connect(nats_url)
    stack.push_async_callback(nc.close)

    async def on_incident(msg) -> None:  # type: ignore[no-untyped-def]
        event = json.loads(msg.data)
        alert_id = event["data"].get("alert_id")
        if alert_id and alert_id not in seen:
            seen[alert_id] = time.time()
            # when intake stamped the alert, and when triage built the incident event (before its commit)
            stamps[alert_id] = (_ts(event["data"].get("last_seen") or event["data"]["opened_at"]), _ts(event["time"]))

    await nc.subscribe("tierline.incident.*.*", cb=on_incident)


async def main(
    quick: bool, only: list[tuple[str, int]] | None = None, profile: Path | None = None, scale: bool = False
) -> None:
    plan = only or (QUICK if quick else PLAN)
    figures: dict[str, object] | None = {} if scale else None
    rows = await run_stack(plan, 4 if quick else 10, profile, scale=figures)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print_table(rows)
    if figures:
        print("\nAt scale\n| figure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in figures.items()))
    for (m, r), row in zip(plan, rows, strict=True) if profile else []:
        cost = {k.removesuffix(" ms/a"): float(v) for k, v in row.items() if k.endswith(" ms/a") and v != "n/a"}
        print(f"\nWhere each service's CPU went, step {m}:{r} (its CPU ms/alert split by its py-spy samples)")
        print(table(profile / f"{m}-{r}", cost))
        print(f"\nPostgreSQL's statements, step {m}:{r}\n" + (profile / f"{m}-{r}" / "postgres.md").read_text())


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
    print(f"\nTierline pipeline benchmark ({os.cpu_count()} cores; CPU ms per accepted alert; total % of one core)")
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
    parser.add_argument("--no-scale", action="store_true", help="skip the 100k-incident and 1M-event steps")
    parser.add_argument("--scale", action="store_true", help="run them after --steps or --quick too")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy each service into this folder per step")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(
        main(args.quick, args.steps, args.profile, args.scale or not (args.no_scale or args.quick or args.steps))
    )
