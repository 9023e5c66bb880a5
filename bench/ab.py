"""A/B pairs in one run: the same steps on the code of a git revision (A) and on this working tree (B), each
on a fresh stack, interleaved A B A B so that the machine's drift lands on both sides alike.

    .venv/bin/python -m bench.ab --base HEAD~1 --steps new:1000 --rounds 3

Prints every row (its side and round first) and, per step, the median of B/A over the rounds for
committed/s and for each process's and the total CPU ms per alert (below 1: B spends less).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench.pipeline import print_table, run_stack, steps_arg


def export(rev: str) -> Path:
    """The tree of `rev` (git archive) in a temporary folder, to run the services from."""
    dest = Path(tempfile.mkdtemp(prefix="tierline-ab-"))
    archive = subprocess.run(["git", "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


async def main(base: str, plan: list[tuple[str, int]], rounds: int, secs: float) -> None:
    sides = {"A": export(base), "B": None}
    rows: list[dict[str, object]] = []
    for n in range(1, rounds + 1):
        for side, code in sides.items():
            load = os.getloadavg()[0]
            for row in await run_stack(plan, secs, code=code):
                rows.append({"side": side, "round": n, "load": f"{load:.1f}", **row})
    print(f"\nA = {base}, B = working tree")
    print_table(rows)
    summary(plan, rows)


def summary(plan: list[tuple[str, int]], rows: list[dict[str, object]]) -> None:
    """Per step, the median over the rounds of B/A: committed/s, then each CPU ms/alert column and pg tx/a."""
    cols = ["committed/s", *(c for c in rows[0] if c.endswith(" ms/a")), "pg tx/a"]
    print("\n| step | pairs | " + " | ".join(f"{c} B/A" for c in cols) + " |\n|" + "---|" * (len(cols) + 2))
    for mix, rate in plan:
        mine = [r for r in rows if r["mix"] == mix and r["offered/s"] == rate]
        a_rows = {r["round"]: r for r in mine if r["side"] == "A"}
        pairs = [(a_rows[b["round"]], b) for b in mine if b["side"] == "B" and b["round"] in a_rows]
        ratios = [statistics.median(_ratio(a[c], b[c]) for a, b in pairs) for c in cols]
        print(f"| {mix}:{rate} | {len(pairs)} | " + " | ".join(f"{x:.2f}" for x in ratios) + " |")


def _ratio(a: object, b: object) -> float:
    try:
        return float(b) / float(a)  # type: ignore[arg-type]
    except (ValueError, ZeroDivisionError):
        return float("nan")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision of side A")
    parser.add_argument("--steps", type=steps_arg, default=[("new", 1000)])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args.base, args.steps, args.rounds, args.seconds))
