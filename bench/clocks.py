"""Deadline precision benchmark: how late does an SLA deadline fire when many clocks are open?

Starts its own nats-server and PostgreSQL (durable settings, as `tierline up`) and the escalation service
in its own process with the default timer poll (TIERLINE_TIMER_POLL_S=0.2). For each step it loads
`open` running clocks whose deadlines lie a day ahead, plus `due` clocks whose deadlines fall over the next
`spread` seconds, straight into escalation's table (what opening that many incidents leaves behind), then
watches the `sla.breached` events on NATS. Fire delay = the instant the breach was committed (its
`breached_at`) minus its deadline; "seen" adds the outbox relay and NATS hop to an observer.

    make bench-clocks               # 1,000 and 100,000 open clocks (~2 minutes)
    .venv/bin/python -m bench.clocks --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import nats

from bench.ready import bench_env, pct, start_servers, supervised, wait_ready

ROW = (
    "(incident_id, clock, tenant, number, priority, tier, started_tier, calendar, target_s, started_at, due_at,"
    " coverage, next_fire_at)"
)


async def load_clocks(
    db: asyncpg.Connection, *, n: int, first_due: datetime, spread_s: float, ids: list[str] | None = None
) -> list[str]:
    """Insert n open response clocks with deadlines spread evenly from `first_due` (for the incidents `ids`,
    else new ones) and each incident's escalation run; returns the incident ids."""
    ids = ids or [str(uuid.uuid4()) for _ in range(n)]
    due = [first_due + timedelta(seconds=spread_s * i / max(1, n)) for i in range(n)]
    started = [d - timedelta(minutes=15) for d in due]
    for lo in range(0, n, 20_000):  # one statement per 20k rows
        chunk = slice(lo, lo + 20_000)
        await db.execute(
            f"INSERT INTO escalation.sla_clocks {ROW} SELECT i, 'response', 'acme', 'ACME-' || left(i::text, 8),"
            " 'P1', 3, 3, '24x7', 900, s, d, '{\"hours\": \"24x7\"}', d"
            " FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS u(i, s, d)",
            ids[chunk],
            started[chunk],
            due[chunk],
        )
        # Each incident's escalation policy run (the timer claims a clock together with it).
        await db.execute(
            "INSERT INTO escalation.escalation_runs (incident_id, tenant, number, title, priority, policy, steps,"
            " repeat, coverage, tier, step_started_at, state, sla) SELECT i, 'acme', 'ACME-' || left(i::text, 8),"
            " 'bench', 'P1', 'default', '[{\"tier\": 3, \"after_s\": 900, \"group\": null, \"notify\": []}]',"
            " 0, '{\"hours\": \"24x7\"}', 3, s, 'acknowledged', '{}' FROM unnest($1::uuid[], $2::timestamptz[])"
            " AS u(i, s)",
            ids[chunk],
            started[chunk],
        )
    return ids


async def step(db, seen: dict[str, float], open_clocks: int, due: int, spread_s: float) -> dict[str, object]:
    await db.execute("TRUNCATE escalation.sla_clocks, escalation.escalation_runs")
    now = datetime.now(UTC)
    await load_clocks(db, n=open_clocks, first_due=now + timedelta(days=1), spread_s=3600)
    await db.execute("ANALYZE escalation.sla_clocks; ANALYZE escalation.escalation_runs")
    first = datetime.now(UTC) + timedelta(seconds=3)
    ids = set(await load_clocks(db, n=due, first_due=first, spread_s=spread_s))
    deadline = time.time() + spread_s + 30
    while time.time() < deadline and not ids <= seen.keys():
        await asyncio.sleep(0.2)
    rows = await db.fetch(
        "SELECT incident_id, due_at, breached_at FROM escalation.sla_clocks WHERE incident_id = ANY($1::uuid[])",
        list(ids),
    )
    fired = [r for r in rows if r["breached_at"] is not None]
    delay = [(r["breached_at"] - r["due_at"]).total_seconds() * 1000 for r in fired]
    seen_ms = [
        (seen[str(r["incident_id"])] - r["due_at"].timestamp()) * 1000 for r in fired if str(r["incident_id"]) in seen
    ]
    doubles = sum(1 for i in ids if seen.get(i + "#2"))
    return {
        "open clocks": open_clocks + due,
        "deadlines due": due,
        "fired": len(fired),
        "fired twice": doubles,
        "fire delay p50 ms": round(pct(delay, 50), 1),
        "p99 ms": round(pct(delay, 99), 1),
        "max ms": round(max(delay, default=float("nan")), 1),
        "seen p50 ms": round(pct(seen_ms, 50), 1),
        "seen p99 ms": round(pct(seen_ms, 99), 1),
        "within 1 s": f"{sum(1 for d in delay if d <= 1000)}/{len(fired)}",
    }


def table(rows: list[dict[str, object]]) -> str:
    cols = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join(
        [line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line([r[c] for c in cols]) for r in rows)]
    )


async def main(quick: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tierline-bench-clocks-"))
    async with AsyncExitStack() as stack:
        _, _, nats_url, db_url = await start_servers(stack, tmp)
        env = bench_env(tmp, nats_url, db_url)
        port = (await supervised(stack, ["escalation"], env, tmp))[0]["escalation"]
        async with aiohttp.ClientSession() as http:
            await wait_ready(http, [port])
        seen: dict[str, float] = {}
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.close)

        async def on_breach(msg) -> None:  # type: ignore[no-untyped-def]
            iid = json.loads(msg.data)["data"]["incident_id"]
            seen[iid + "#2" if iid in seen else iid] = time.time()

        await nc.subscribe("tierline.sla.breached.>", cb=on_breach)
        db = await asyncpg.connect(db_url)
        stack.push_async_callback(db.close)
        plan = [(10_000, 500, 10)] if quick else [(1_000, 2_000, 20), (100_000, 2_000, 20)]
        rows = []
        for open_clocks, due, spread in plan:
            rows.append(await step(db, seen, open_clocks, due, spread))
            print(table(rows[-1:]), flush=True)
        print("\n" + table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small step")
    asyncio.run(main(parser.parse_args().quick))
