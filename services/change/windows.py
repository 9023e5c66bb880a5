"""Change windows: each scheduled change's start and end are due rows, fired exactly once with their event.

The timer claims due edges `FOR UPDATE SKIP LOCKED` and marks them fired in the transaction that stages
their events, so two replicas or a restart never publish an edge twice (or lose one). Commands that end
a window early (implementation finished, change cancelled) lock the same rows first, so they and the
timer never both fire an edge.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from libs.events import Envelope
from libs.outbox import Outbox, stage
from libs.timer import Polled, Poller
from services.change import store
from services.change.domain.changes import ChangeRequest
from services.change.events import window_event

log = structlog.get_logger()


async def open_now(conn: asyncpg.Connection, change: ChangeRequest, at: datetime, cid: str | None) -> list[Envelope]:
    """Implementation began: the window is open from now if its planned start has not come yet."""
    edges = await store.window_edges(conn, change_id=change.id)
    if "start" in edges and edges["start"] is None:
        await store.mark_fired(conn, change_id=change.id, edges=["start"], at=at)
        return [window_event(change, "start", at, correlation_id=cid)]
    return []


async def close_now(conn: asyncpg.Connection, change: ChangeRequest, at: datetime, cid: str | None) -> list[Envelope]:
    """Implementation ended or the change was cancelled: an open window ends now, one not yet open never will."""
    edges = await store.window_edges(conn, change_id=change.id)
    if edges.get("start") is not None and edges.get("end") is None:
        await store.mark_fired(conn, change_id=change.id, edges=["end"], at=at)
        return [window_event(change, "end", at, correlation_id=cid)]
    await store.drop_window(conn, change_id=change.id)
    return []


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
