"""Where each service's CPU goes: py-spy samples of every service process during a benchmark step, sorted
into stages.

`python -m bench.pipeline --steps new:1000 --profile DIR` records each service with
`py-spy record --format raw` (collapsed stacks) while the step runs, then prints one table: per service,
the share of its samples in each stage. A sample belongs to the stage of its innermost frame that a rule
matches (a library's stage, else the project's own code; asyncio's frames match none, so the loop's work
for nats-py counts as bus), except that anything under the outbox relay counts as the relay. A sample in the
loop alone (uvloop's C code: socket reads and writes, callbacks) is "event loop".
`python -m bench.profile DIR` prints the table again from the recorded files.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import asyncpg

# (stage, pattern on one frame "function (file:line)"), innermost match wins
RULES = [
    ("logging", r"\((structlog|logging)/|libs/logging\.py"),
    ("SQL", r"\(asyncpg/"),
    ("bus", r"\(nats/|libs/bus\.py"),
    ("validate", r"pydantic"),
    ("serialise", r"json/encoder|orjson|dumps|model_dump"),
    ("parse", r"json/decoder|json/__init__|loads"),
    ("HTTP", r"aiohttp|http_parser|multidict|yarl"),
    ("config", r"libs/config/"),
    ("own code", r"\((services|libs)/"),
]
OUTBOX = re.compile(r"libs/outbox\.py")
STAGES = ["parse", "validate", "serialise", "bus", "SQL", "outbox relay", "logging", "HTTP", "config", "event loop"]


def stage_of(stack: list[str]) -> str:
    if any(OUTBOX.search(f) for f in stack):
        return "outbox relay"
    if "(asyncio/runners.py" in stack[-1]:  # the C loop itself, below no Python frame of a task
        return "event loop"
    for frame in reversed(stack):
        for stage, pattern in RULES:
            if re.search(pattern, frame):
                return stage
    return "event loop"  # only the loop's own frames: uvloop's C loop (socket I/O, callbacks) and asyncio


def read(path: Path) -> Counter[str]:
    """Samples per stage in one py-spy raw file (`frame;frame;... count` per line, outermost first)."""
    stages: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stages[stage_of(stack.split(";"))] += int(count)
    return stages


def table(folder: Path, cost: dict[str, float] | None = None) -> str:
    """Per service, each stage's share of its samples (%), or with `cost` (CPU ms per alert by service, as the
    meter measured it) each stage's share of that cost in µs per alert."""
    cols = [*STAGES, "own code"]
    unit = "µs/a" if cost else "%"
    rows = [
        "| service | samples | " + ("CPU ms/a | " if cost else "") + " | ".join(f"{c} {unit}" for c in cols) + " |",
        "|" + "---|" * (len(cols) + 2 + bool(cost)),
    ]
    for path in sorted(folder.glob("*.txt")):
        stages = read(path)
        total = sum(stages.values()) or 1
        scale = cost.get(path.stem, 0.0) * 1000 if cost else 100.0
        cells = " | ".join(f"{stages[c] * scale / total:.0f}" for c in cols)
        rows.append(f"| {path.stem} | {total} | " + (f"{cost.get(path.stem, 0):.2f} | " if cost else "") + f"{cells} |")
    return "\n".join(rows)


async def record(pids: dict[str, int], folder: Path, seconds: float) -> list[asyncio.subprocess.Process]:
    """Start one py-spy per process (sampling 100/s, without pausing it); they stop after `seconds`."""
    spy = shutil.which("py-spy") or sys.exit("py-spy not found: pip install py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        await asyncio.create_subprocess_exec(
            spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100", "--nonblocking",
            "--duration", str(int(seconds)), "-o", str(folder / f"{name}.txt"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]  # fmt: skip


if __name__ == "__main__":  # FOLDER [service=ms/a ...]
    given = dict(a.split("=") for a in sys.argv[2:])
    print(table(Path(sys.argv[1]), {k: float(v) for k, v in given.items()} or None))


async def track_statements(pg, db_url: str) -> None:  # type: ignore[no-untyped-def]
    """Restart the bench's PostgreSQL with pg_stat_statements loaded (only when profiling: it costs a little)."""
    admin = await asyncpg.connect(pg.admin_url)
    await admin.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    await admin.close()
    await pg.stop()
    await pg.restart()
    db = await asyncpg.connect(db_url)
    await db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await db.close()


async def statements(db: asyncpg.Connection, alerts: int, top: int = 15) -> str:
    """The statements that took the most PostgreSQL time since the last reset: calls and ms per 1,000 alerts."""
    rows = await db.fetch(
        "SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') AS q FROM pg_stat_statements"
        " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " ORDER BY total_exec_time DESC LIMIT $1",
        top,
    )
    total = await db.fetchval("SELECT sum(total_exec_time) FROM pg_stat_statements") or 1
    out = ["| calls / 1k alerts | exec ms / 1k alerts | % of exec time | statement |", "|---|---|---|---|"]
    for r in rows:
        k = 1000 / max(1, alerts)
        q = r["q"][:110].replace("|", "\\|")
        ms = r["total_exec_time"]
        out.append(f"| {r['calls'] * k:.0f} | {ms * k:.1f} | {ms * 100 / total:.0f} | `{q}` |")
    return "\n".join(out)
