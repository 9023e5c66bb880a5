"""Change's periodic claimers: the window timer publishes each scheduled change's window start and end, once.

A window's edges are due rows (change_windows). The timer claims those due `FOR UPDATE SKIP LOCKED` and marks
them fired in the unit of work that emits their events, so two replicas or a restart never publish an edge
twice (or lose one). Commands that move an edge (api/windows.py) lock the same rows first, so they and the
timer never both fire an edge.
"""

from __future__ import annotations

import asyncpg
import structlog

from libs.outbox import Outbox
from libs.uow import Tx
from libs.workers import Worker, claiming
from services.change import store
from services.change.events import window_event

log = structlog.get_logger()
WINDOW_BATCH = 200


async def fire_due_edges(tx: Tx, *, limit: int = WINDOW_BATCH) -> int:
    """Publish the window edges that fell due (a start before its end when both did while no replica ran)."""
    due = await store.claim_due_edges(tx.conn, limit=limit)
    for d in due:
        await store.mark_fired(tx.conn, change_id=d.change.id, edges=[d.edge], at=d.fired_at)
        tx.emit(window_event(d.change, d.edge, d.fired_at))
        kind = "change.window_started" if d.edge == "start" else "change.window_ended"
        log.info(kind, tenant=d.change.tenant, number=d.change.number)
    return len(due)


def window_timer(pool: asyncpg.Pool, outbox: Outbox, *, poll_s: float) -> Worker:
    return Worker("change-window-timer", claiming(pool, outbox, fire_due_edges), poll_s=poll_s, batch=WINDOW_BATCH)
