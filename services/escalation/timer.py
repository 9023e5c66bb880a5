"""The deadline timer: claims due clocks and fires each exactly once, with the events it raises.

Firing (breached_at set) and the raised events commit in one transaction; SKIP LOCKED keeps replicas
apart. A deadline that passed while the service was down is simply due at start and fires then, late.
"""

from __future__ import annotations

import asyncpg
import structlog
from prometheus_client import Counter, Histogram

from libs.contracts import EscalationRequested, SlaBreached
from libs.events import Envelope, raise_event
from libs.outbox import Outbox, stage
from libs.timer import Poller
from services.escalation import store
from services.escalation.domain import escalation_after_breach, is_late

log = structlog.get_logger()
BREACHES = Counter("tierline_sla_breaches_total", "SLA breaches fired", ["clock", "priority"])
FIRE_DELAY = Histogram(
    "tierline_timer_fire_delay_seconds", "Deadline to firing", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30)
)


def breach_events(row: asyncpg.Record) -> list[Envelope]:
    fired_at, tenant, iid = row["fired_at"], row["tenant"], str(row["incident_id"])
    breach = SlaBreached(
        incident_id=iid,
        number=row["number"],
        clock=row["clock"],
        priority=row["priority"],
        due_at=row["due_at"],
        breached_at=fired_at,
        late=is_late(row["due_at"], fired_at),
        tier=row["tier"],
    )
    events = [raise_event("sla.breached", breach, source="escalation", tenant=tenant, subject=iid)]
    to_tier = escalation_after_breach(row["clock"], row["tier"])
    if to_tier is not None:
        request = EscalationRequested(
            incident_id=iid,
            number=row["number"],
            from_tier=row["tier"],
            to_tier=to_tier,
            reason=f"{row['clock']} SLA breached",
            at=fired_at,
        )
        events.append(
            raise_event(
                "escalation.requested", request, source="escalation", tenant=tenant, subject=iid, cause=events[0]
            )
        )
    return events


class DeadlineTimer:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, *, poll_s: float, batch: int = 500) -> None:
        self.pool, self.outbox, self.batch = pool, outbox, batch
        self.poller = Poller("deadline-timer", self.fire_due, poll_s=poll_s, batch=batch)

    async def start(self) -> None:
        await self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()

    async def fire_due(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_due(conn, limit=self.batch)
            if not rows:
                return 0
            events = [e for r in rows for e in breach_events(r)]
            await store.mark_breached(
                conn,
                [(r["incident_id"], r["clock"], r["fired_at"], is_late(r["due_at"], r["fired_at"])) for r in rows],
            )
            await stage(conn, self.outbox.bus, events)
        self.outbox.kick()
        for r in rows:
            BREACHES.labels(r["clock"], r["priority"]).inc()
            FIRE_DELAY.observe((r["fired_at"] - r["due_at"]).total_seconds())
            log.info(
                "sla.breached",
                tenant=r["tenant"],
                incident_id=str(r["incident_id"]),
                clock=r["clock"],
                late=is_late(r["due_at"], r["fired_at"]),
            )
        return len(rows)
