"""A polling loop for work that falls due in PostgreSQL (SLA deadlines, change windows).

The work itself claims its due rows with `FOR UPDATE SKIP LOCKED` and commits what it fired together
with the events it raised (see services/escalation/timer.py); this only decides when to look again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from libs.tasks import cancel_and_wait

log = structlog.get_logger()


class Poller:
    """Calls `tick()` (returns how many rows it handled) every `poll_s`; at once again while batches are full."""

    def __init__(self, name: str, tick: Callable[[], Awaitable[int]], *, poll_s: float, batch: int) -> None:
        self.name, self.tick, self.poll_s, self.batch = name, tick, poll_s, batch
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        pause = 0.0  # after a failure: doubling up to 5 s, so an outage is a line or two, not one per poll
        while True:
            try:
                handled = await self.tick()
            except Exception as exc:  # database away: the due rows stay where they are, retry later
                if not pause:
                    log.warning("timer.failed", timer=self.name, error=repr(exc))
                pause = min(5.0, max(self.poll_s, pause * 2))
                await asyncio.sleep(pause)
                continue
            if pause:
                log.info("timer.resumed", timer=self.name)
                pause = 0.0
            if handled < self.batch:
                await asyncio.sleep(self.poll_s)


class Polled:
    """Mixin for work run by a Poller kept in `self.poller`: the owner starts and stops with it."""

    poller: Poller

    async def start(self) -> None:
        await self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
