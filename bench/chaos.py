"""The chaos suite (`make chaos`): a steady stream of alerts in four formats while one fault is injected per
experiment, then the invariants checked (bench/chaos_check.py) and one table row printed per experiment.

A harness, not a timed test: the figures are measured, nothing asserts a time. Each experiment gets a fresh stack
(bench/chaos_stack.py; the faults: bench/chaos_faults.py): its own NATS (one node, or a three-node cluster with R3
streams), PostgreSQL and service processes, one or two replicas each, restarted at once when killed (what a
supervisor or an orchestrator does).

    make chaos                                   # 10,000 alerts per experiment at 100/s (~30 minutes)
    .venv/bin/python -m bench.chaos --alerts 1000 --rate 50 --only nats-cluster --short
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nats

from bench.chaos_check import Verdict, settle, verdict
from bench.chaos_faults import BY_NAME, Experiment, Fault, Run, now, quiet
from bench.chaos_load import Sender, plan
from bench.chaos_stack import Stack


@dataclass
class Outcome:
    experiment: Experiment
    short: bool
    verdict: Verdict
    sender: Sender
    faults: list[Fault]
    recovery_s: float  # the slowest of its faults: until whole again and an alert accepted then is an incident
    gap_s: float  # the longest stretch in which intake accepted nothing while alerts were being sent
    notes: dict[str, object]


async def run_experiment(
    exp: Experiment, *, alerts: int, rate: float, short: bool = False, tmp: Path | None = None,
    admin_db_url: str | None = None, seed: int = 11,
) -> Outcome:  # fmt: skip
    own = tmp is None
    tmp = tmp or Path(tempfile.mkdtemp(prefix=f"tierline-chaos-{exp.name}-"))
    stack = Stack(tmp, nats_nodes=exp.nats_nodes, replicas=exp.replicas, admin_db_url=admin_db_url)
    async with AsyncExitStack() as es:
        http = await es.enter_async_context(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)))
        await stack.start(es, http)
        seen = await watch_incidents(es, stack)
        sender = Sender(http, lambda: stack.urls("intake"))
        todo = plan(alerts, seed)
        run = Run(stack, http, sender, alerts / rate, exp, short, random.Random(seed), started=now())
        await asyncio.gather(sender.run(todo, rate), exp.inject(run))
        await settle(stack, len(sender.accepted), timeout=600)
        found = await verdict(stack, todo, sender, http)
    if own and found.clean and not os.environ.get("TIERLINE_CHAOS_KEEP"):  # else its data and logs stay to look at
        shutil.rmtree(tmp, ignore_errors=True)
    times = sorted(t for t, _ in sender.accepted.values())
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
    recovery = max((recovered(f, sender, seen) for f in run.faults), default=float("nan"))
    return Outcome(exp, short, found, sender, run.faults, recovery, gap, run.notes)


def recovered(fault: Fault, sender: Sender, seen: dict[str, float]) -> float:
    """Seconds from the fault's end until the stack was whole and the first alert accepted after that was seen as
    an incident event (its incident opened or the alert added to one)."""
    whole_at = fault.end + fault.whole_s
    after = [min((seen[i] for i in ids if i in seen), default=None) for t, ids in sender.accepted.values()
             if t >= whole_at]  # fmt: skip
    flowing = min((s for s in after if s is not None), default=float("nan"))
    return round(max(fault.whole_s, flowing - fault.end), 1)


async def watch_incidents(es: AsyncExitStack, stack: Stack) -> dict[str, float]:
    """alert id -> when its incident event was seen on the bus (a core subscription: no consumer of ours)."""
    seen: dict[str, float] = {}
    nc = await nats.connect(stack.nats.url.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2,
                            error_cb=quiet)  # fmt: skip
    es.push_async_callback(nc.close)

    async def on_event(msg) -> None:  # type: ignore[no-untyped-def]
        alert_id = json.loads(msg.data)["data"].get("alert_id")
        if alert_id:
            seen.setdefault(alert_id, now())

    for kind in ("opened", "alert_added"):
        await nc.subscribe(f"{stack.prefix}.incident.{kind}.*", cb=on_event)
    return seen


COLUMNS = ("fault", "accepted", "refused (by code)", "lost", "doubled", "numbers wrong", "clocks wrong",
           "deadlines wrong", "notifications doubled", "notifications missing", "dead letters", "report = rebuild",
           "longest accept gap s", "recovery s")  # fmt: skip


def row(o: Outcome) -> list[object]:
    v = o.verdict
    accepted = f"{v.accepted}" + (f" (+{v.unaccepted} never)" if v.unaccepted else "")
    return [o.experiment.title(o.short), accepted, o.sender.refusals(), v.lost, v.doubled, v.numbers_wrong,
            v.clocks_wrong, v.deadlines_wrong, resent(v), v.notifications_missing, v.dead_letters,
            "yes" if v.report_equal else "NO", round(o.gap_s, 1), o.recovery_s]  # fmt: skip


def resent(v: Verdict) -> str:
    same = f" ({v.notifications_resent} the same delivery again)" if v.notifications_resent else ""
    return f"{v.notifications_doubled}{same}"


def table(outcomes: list[Outcome]) -> str:
    rows = [list(COLUMNS), *(list(map(str, row(o))) for o in outcomes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows[1:])])


def gap(o: Outcome, fault: Fault) -> float:
    """The longest stretch without a 202 that began between the fault's start and 5 s after the stack was whole."""
    until = fault.end + fault.whole_s + 5
    times = [fault.start, *sorted(t for t, _ in o.sender.accepted.values() if t >= fault.start)]
    # A pause that began in the window counts whole, however long after the window it ended.
    return max((b - a for a, b in itertools.pairwise(times) if a <= until), default=0.0)


def details(o: Outcome) -> str:
    faults = "; ".join(f"{f.label}: whole again {f.whole_s:.1f} s after, accepts paused {gap(o, f):.1f} s at most"
                       for f in o.faults)  # fmt: skip
    return f"{o.experiment.name}: {faults}"


async def main(names: list[str], alerts: int, rate: float, short: bool) -> int:
    outcomes = []
    for name in names:
        print(f"-- {name}: {alerts} alerts at {rate}/s", flush=True)
        outcomes.append(await run_experiment(BY_NAME[name], alerts=alerts, rate=rate, short=short))
        print(table(outcomes[-1:]), "\n" + details(outcomes[-1]), flush=True)
    print(f"\nTierline chaos suite: {alerts} alerts per experiment at {rate}/s\n")
    print(table(outcomes))
    for o in outcomes:
        print(details(o))
    return 0 if all(o.verdict.clean for o in outcomes) else 1


def only_arg(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if unknown := [n for n in names if n not in BY_NAME]:
        raise argparse.ArgumentTypeError(f"unknown experiment(s) {unknown}; choose from {list(BY_NAME)}")
    return names


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000, help="alerts per experiment (default 10,000)")
    parser.add_argument("--rate", type=float, default=100.0, help="alerts per second (default 100)")
    parser.add_argument("--only", type=only_arg, default=list(BY_NAME), help=f"comma-separated, of {list(BY_NAME)}")
    parser.add_argument("--short", action="store_true", help="short faults (seconds, not tens of seconds)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.only, args.alerts, args.rate, args.short)))
