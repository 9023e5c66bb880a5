"""Change windows: each scheduled change's start and end are due rows, fired exactly once with their event.

The timer claims due edges `FOR UPDATE SKIP LOCKED` and marks them fired in the transaction that stages
their events, so two replicas or a restart never publish an edge twice (or lose one). Commands that move
an edge (api/windows.py) lock the same rows first, so they and the timer never both fire an edge.
"""

from __future__ import annotations

import asyncpg
import structlog

from libs.outbox import Outbox, stage
from libs.timer import Polled, Poller
from services.change import store
from services.change.events import window_event

log = structlog.get_logger()


class WindowTimer(Polled):
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, *, poll_s: float, batch: int = 200) -> None:
        self.pool, self.outbox, self.batch = pool, outbox, batch
        self.poller = Poller("change-window-timer", self.fire_due, poll_s=poll_s, batch=batch)

    async def fire_due(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            due = await store.claim_due_edges(conn, limit=self.batch)
            if not due:
                return 0
            events = [window_event(change, edge, fired_at) for edge, change, fired_at in due]
            for edge, change, fired_at in due:
                await store.mark_fired(conn, change_id=change.id, edges=[edge], at=fired_at)
            await stage(conn, self.outbox.bus, events)
        self.outbox.kick()
        for edge, change, _ in due:
            kind = "change.window_started" if edge == "start" else "change.window_ended"
            log.info(kind, tenant=change.tenant, number=change.number)
        return len(due)
