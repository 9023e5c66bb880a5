"""Workers: the periodic jobs of every service, mostly claimers (SLA deadlines, policy steps, notifications,
change windows, held alerts, auto-close), a few readers (gauges, the intake's backlog watch).

A claiming worker's `tick` claims the rows that fell due with `FOR UPDATE SKIP LOCKED` (so replicas share the work
and never take the same row), handles them and commits what it fired together with the events it raised
(`claiming` runs it in one unit of work); it returns how many rows it took. The loop looks again every
`poll_s`, and at once while ticks come back full. A row whose time passed while no replica ran is simply
due at the next start. A service starts all of its workers with one `start_workers` call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import asyncpg
import structlog

from libs.outbox import Outbox
from libs.tasks import cancel_and_wait
from libs.uow import Tx, unit_of_work

log = structlog.get_logger()
Tick = Callable[[], Awaitable[int]]
MAX_PAUSE_S = 5.0


@dataclass(frozen=True)
class Worker:
    name: str
    tick: Tick  # claims and handles what is due; returns how many rows it took
    poll_s: float
    batch: int = 1  # a tick that took this many looks again at once


def claiming(pool: asyncpg.Pool, outbox: Outbox, claim: Callable[[Tx], Awaitable[int]]) -> Tick:
    """A tick that runs `claim` in one unit of work: the rows it fired and the events it emitted commit together."""

    async def tick() -> int:
        async with unit_of_work(pool, outbox) as tx:
            return await claim(tx)

    return tick


async def run_worker(worker: Worker) -> None:
    pause = 0.0  # after a failure: doubling up to 5 s, so an outage is a line or two, not one per poll
    while True:
        try:
            handled = await worker.tick()
        except Exception as exc:  # the database may be away: the due rows stay where they are; retry later
            if not pause:
                log.warning("worker.failed", worker=worker.name, error=repr(exc))
            pause = min(MAX_PAUSE_S, max(worker.poll_s, pause * 2))
            await asyncio.sleep(pause)
            continue
        if pause:
            log.info("worker.resumed", worker=worker.name)
            pause = 0.0
        if handled < worker.batch:
            await asyncio.sleep(worker.poll_s)


async def start_workers(stack: AsyncExitStack, workers: Sequence[Worker]) -> None:
    """Start each worker's loop; the exit stack stops them (before the pool and bus they use close)."""
    for worker in workers:
        task = asyncio.create_task(run_worker(worker), name=worker.name)
        stack.push_async_callback(cancel_and_wait, task)
