"""Resolved incidents close themselves after the tenant's `triage.close_after` (ITSM's auto-close): the
close, its timeline entry and its incident.closed event commit together, once, whichever replica runs it."""

from __future__ import annotations

import asyncpg

from libs.config import TierlineConfig
from libs.contracts import IncidentClosed
from libs.events import utcnow
from libs.outbox import Outbox, stage
from libs.timer import Polled, Poller
from services.triage import store
from services.triage.events import incident_event

ACTOR = "triage:auto-close"


class AutoCloser(Polled):
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, config: TierlineConfig, *, poll_s: float) -> None:
        self.pool, self.outbox, self.batch = pool, outbox, 200
        self.after_s = {t.id: s for t in config.tenants if (s := t.triage.close_after.total_seconds()) > 0}
        self.poller = Poller("auto-close", self.close_due, poll_s=poll_s, batch=self.batch)

    async def start(self) -> None:
        if self.after_s:
            await self.poller.start()

    async def close_due(self) -> int:
        now = utcnow()
        async with self.pool.acquire() as conn, conn.transaction():
            closed = await store.close_resolved(conn, after_s=self.after_s, at=now, limit=self.batch)
            if not closed:
                return 0
            steps = [(i.id, now, "closed", ACTOR, {"after_s": self.after_s[i.tenant]}) for i in closed]
            await store.record_batch(conn, incidents=[], timeline=steps)
            events = [
                incident_event(
                    "incident.closed", i, IncidentClosed(incident_id=i.id, number=i.number, by=ACTOR, at=now)
                )
                for i in closed
            ]
            await stage(conn, self.outbox.bus, events)
        self.outbox.kick()
        return len(closed)
