"""A tenant-month report over a ledger of ~1,000,000 events, timed: the at-scale report target on its own.

Starts the bench stack (bench/pipeline.py's: its own nats-server and PostgreSQL, the services in their own
processes, the demo configuration less its paging), runs one short `new:500` step so that the ledger holds
the events the services really record, fills Acme's month to `--events` by copying them (bench/scale.py's
seed_ledger: new event and incident ids, the same times and payload shapes), then times Acme's report of the
month over HTTP, each form `--rounds` times, and prints a table.

    .venv/bin/python -m bench.report_scale --events 1000000
    .venv/bin/python -m bench.report_scale --dir /tmp/rs --events 1000000   # keep the data; a second run
                                                                          # with the same --dir reseeds nothing
    .venv/bin/python -m bench.report_scale --dir /tmp/rs --hold            # leave the stack up (EXPLAIN, py-spy)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import asyncpg

from bench.cpu import CpuMeter
from bench.pipeline import observe, start_stack, step
from bench.scale import ADMIN_TOKEN, MONTH, MONTH_END, seed_ledger

_Q = f"?from={MONTH:%Y-%m-%d}&to={MONTH_END:%Y-%m-%d}"
FORMS = {  # name: (what it is, the path and query after /v1/reports/acme)
    "json": ("JSON, trend=0", _Q + "&trend=0"),
    "trend": ("JSON, default trend (3 months)", _Q),
    "csv": ("CSV, trend=0", _Q + "&trend=0&format=csv"),
    "html": ("monthly HTML (trend 5)", f"/monthly/{MONTH:%Y-%m}.html"),
}


async def month_events(db: asyncpg.Connection) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM reporting.ledger WHERE tenant = 'acme' AND occurred_at >= $1 AND occurred_at < $2",
        MONTH,
        MONTH_END,
    )


async def timed(http: aiohttp.ClientSession, url: str, limit_s: float, cpu: CpuMeter) -> dict[str, object]:
    """Seconds until the whole body has arrived, its size, and the CPU seconds reporting and PostgreSQL spent
    meanwhile (the steadier figure on a shared machine); "> limit" when it did not come in time."""
    cpu.start()
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=limit_s)) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"{url} answered {r.status}: {body[:300]!r}")
    except TimeoutError:
        return {"s": f"> {limit_s:.0f}", "bytes": 0, "reporting": "", "postgres": ""}
    wall, used = cpu.stop()
    return {"s": round(wall, 2), "bytes": len(body), "reporting": used["reporting"], "postgres": used["postgres"]}


async def run(args: argparse.Namespace) -> None:
    tmp = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tierline-report-"))
    tmp.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        run = await start_stack(stack, tmp)
        db, cpu = run.db, run.cpu
        seeded = ""
        if await month_events(db) < args.events * 0.9:
            seen: dict[str, float] = {}
            await observe(stack, run.nats_url, seen, {})
            await step(run.url("intake"), seen, {}, cpu, db, 500, args.seconds, "new")
            await asyncio.sleep(3)  # reporting records the step's last escalation and clock events
            _, secs = await seed_ledger(db, args.events)
            seeded = f"seeded in {secs:.1f} s"
        pids = {p.name: p.proc.pid for p in run.procs if getattr(p, "proc", None)}
        print(f"acme's month: {await month_events(db)} ledger events {seeded}; reporting pid {pids.get('reporting')}")
        reporting = f"{run.url('reporting')}/v1/reports/acme"
        if args.hold:
            print(f"holding: {reporting}  database {run.db_url}  (Ctrl-C or SIGTERM to stop)", flush=True)
            stop = asyncio.Event()  # SIGTERM too: a job in the background ignores Ctrl-C's SIGINT
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            return
        rows = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            for name in args.forms:
                name, query = FORMS[name]
                rounds = []
                for _ in range(args.rounds):
                    rounds.append(await timed(http, reporting + query, args.limit, cpu))
                    if isinstance(rounds[-1]["s"], str):
                        break
                rows.append((name, rounds))
        print(f"load average {os.getloadavg()}")
        print("| report | seconds (each round) | reporting CPU s | PostgreSQL CPU s | body bytes |")
        print("|---|---|---|---|---|")
        for name, rounds in rows:
            cols = [", ".join(f"{r[k]:.2f}" if isinstance(r[k], float) else str(r[k]) for r in rounds)
                    for k in ("s", "reporting", "postgres")]  # fmt: skip
            print(f"| {name} | {' | '.join(cols)} | {rounds[-1]['bytes']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="Acme's month filled to this many events")
    parser.add_argument("--seconds", type=float, default=10, help="the new:500 step's length before the copies")
    parser.add_argument("--rounds", type=int, default=3, help="requests per form")
    parser.add_argument("--limit", type=float, default=120, help="seconds a request may take")
    parser.add_argument("--forms", nargs="*", default=list(FORMS), choices=list(FORMS), help="which forms to time")
    parser.add_argument("--dir", help="keep the stack's data here (a later run with it reuses the seeded ledger)")
    parser.add_argument("--hold", action="store_true", help="leave the stack running instead of timing")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
