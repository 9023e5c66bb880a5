"""Memory of the whole stack, per process: RSS, PSS and USS of each service, nats-server, the postmaster, its
background processes and its client backends (grouped by the pool that opened them), idle after the start and
after each step.

    .venv/bin/python -m bench.memory --steps new:1000,new:1000,new:1000 --rest 90

RSS counts a shared page once per process that touched it (PostgreSQL's shared buffers once per backend), PSS
splits each shared page among its sharers (the sum is what the stack costs the machine), USS is what the process
alone holds (what ending it would free). Read from /proc/<pid>/smaps_rollup through psutil.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import psutil

from bench.cpu import CpuMeter
from bench.pipeline import observe, start_stack, step, steps_arg

MB = 1 << 20


def _mem(proc: psutil.Process) -> tuple[int, int, int]:
    try:
        m = proc.memory_full_info()
        return m.rss, getattr(m, "pss", m.rss), m.uss
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0, 0, 0


async def _pg_roles(db: asyncpg.Connection) -> dict[int, str]:
    """Each PostgreSQL process by what it is: a client backend by the pool that opened it (application_name),
    the rest by backend_type (checkpointer, walwriter, ...)."""
    rows = await db.fetch("SELECT pid, backend_type, application_name FROM pg_stat_activity")
    own = await db.fetchval("SELECT pg_backend_pid()")
    roles = {}
    for r in rows:
        if r["backend_type"] == "client backend":
            roles[r["pid"]] = "pg backend: bench" if r["pid"] == own else f"pg backend: {r['application_name'] or '?'}"
        else:
            roles[r["pid"]] = "pg background"
    return roles


async def per_process(cpu: CpuMeter, db: asyncpg.Connection) -> dict[str, list[int]]:
    """{process group: [count, RSS, PSS, USS] in bytes}; the bench's own connection is left out."""
    roles = await _pg_roles(db)
    out: dict[str, list[int]] = {}

    def add(name: str, proc: psutil.Process) -> None:
        row = out.setdefault(name, [0, 0, 0, 0])
        row[0] += 1
        for i, v in enumerate(_mem(proc), start=1):
            row[i] += v

    for name, group in cpu.groups.items():
        root = psutil.Process(group.proc.pid)  # type: ignore[attr-defined]
        add("postmaster" if name == "postgres" else name, root)
        for child in root.children(recursive=True):
            add(roles.get(child.pid, "pg background") if name == "postgres" else name, child)
    out.pop("pg backend: bench", None)
    return out


def table(snaps: list[tuple[str, dict[str, list[int]]]]) -> str:
    """One row per process group, RSS/PSS/USS MB per snapshot; the totals last."""
    names = list(dict.fromkeys(n for _, s in snaps for n in s))
    head = "| process | " + " | ".join(f"{label}: n, RSS / PSS / USS MB" for label, _ in snaps) + " |"
    lines = [head, "|---|" + "---|" * len(snaps)]
    for n in [*names, "total"]:
        cells = []
        for _, s in snaps:
            row = [sum(col) for col in zip(*s.values(), strict=True)] if n == "total" else s.get(n, [0, 0, 0, 0])
            cells.append(f"{row[0]}, {row[1] / MB:.0f} / {row[2] / MB:.0f} / {row[3] / MB:.0f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run(
    plan: list[tuple[str, int]], secs: float, idle_s: float, rest_s: float = 0
) -> list[tuple[str, dict[str, list[int]]]]:
    tmp = Path(tempfile.mkdtemp(prefix="tierline-memory-"))
    async with AsyncExitStack() as stack:
        run = await start_stack(stack, tmp)
        seen: dict[str, float] = {}
        stamps: dict[str, tuple[float, float]] = {}
        await observe(stack, run.nats_url, seen, stamps)
        db, cpu = run.db, run.cpu
        await asyncio.sleep(idle_s)
        snaps = [("idle", await per_process(cpu, db))]
        base = run.url("intake")
        for i, (mix, rate) in enumerate(plan, start=1):
            row = await step(base, seen, stamps, cpu, db, rate, secs, mix)
            print(f"step {i} {mix}:{rate}: committed/s {row['committed/s']}, lost {row['lost']}", flush=True)
            snaps.append((f"after {mix}:{rate} #{i}", await per_process(cpu, db)))
        if rest_s:  # idle again: what the stack gives back (pools close idle connections after 60 s)
            await asyncio.sleep(rest_s)
            snaps.append((f"{rest_s:.0f} s idle after", await per_process(cpu, db)))
        return snaps


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=steps_arg, default=[("new", 1000)], help="e.g. new:1000,new:1000")
    parser.add_argument("--seconds", type=float, default=10, help="each step's length")
    parser.add_argument("--idle", type=float, default=5, help="seconds to wait after the start before measuring")
    parser.add_argument("--rest", type=float, default=0, help="then idle this long after the last step and measure")
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    snaps = asyncio.run(run(args.steps, args.seconds, args.idle, args.rest))
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(table(snaps))
