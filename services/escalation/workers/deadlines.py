"""The deadline timer: claims clocks with a warning or breach due and fires each point exactly once.

Firing (warned / breached_at / next_fire_at saved), the events raised and the notifications queued commit in
one unit of work; SKIP LOCKED keeps replicas apart. A point that passed while the service was down is simply
due at start and fires then, marked late.
"""

from __future__ import annotations

import asyncpg
import structlog
from prometheus_client import Counter, Histogram

from libs.config import TierlineConfig
from libs.config.live import LiveConfig
from libs.events import Envelope
from libs.outbox import Outbox
from libs.uow import Tx, unit_of_work
from libs.workers import Worker
from services.escalation import events, paging
from services.escalation.domain.clock import Firing, SlaClock
from services.escalation.domain.notifications import Incident, Notification, notifications_for
from services.escalation.domain.run import EscalationRun
from services.escalation.store import escalation_runs, notifications, sla_clocks

log = structlog.get_logger()
BREACHES = Counter("tierline_sla_breaches_total", "SLA breaches fired", ["clock", "priority"])
FIRE_DELAY = Histogram(
    "tierline_timer_fire_delay_seconds", "Deadline to firing", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30)
)


def deadline_timer(pool: asyncpg.Pool, outbox: Outbox, live: LiveConfig, *, poll_s: float, batch: int = 500) -> Worker:
    async def tick() -> int:
        config = live.config()  # one configuration version for the whole tick
        async with unit_of_work(pool, outbox) as tx:
            claimed = await sla_clocks.claim_due(tx.conn, limit=batch)
            if claimed is None:
                return 0
            firings = [clock.fire(claimed.at) for clock in claimed.rows]
            await sla_clocks.save_fired(tx.conn, [f.clock for f in firings])
            await _follow_up(tx, config, firings)
        _observe(claimed.rows, firings)  # once committed: what fired did fire
        return len(firings)

    return Worker("deadline-timer", tick, poll_s=poll_s, batch=batch)


async def _follow_up(tx: Tx, config: TierlineConfig, firings: list[Firing]) -> None:
    """Emit every warning and breach and notify each; then a response breach escalates one tier above the
    tier the clock started at (unless a step or a person already did) and moves the policy to that step."""
    ids = [f.clock.incident_id for f in firings]
    runs = {r.incident_id: r for r in await escalation_runs.find(tx.conn, incident_ids=ids, lock=True)}
    pages: list[Notification] = []
    breaches = []
    for f in firings:
        fired = events.fired(f)
        tx.emit(*fired)
        incident = _incident(f.clock, runs.get(f.clock.incident_id))
        for env in fired:
            trigger = "sla_breached" if env.short_type == "sla.breached" else "sla_warning"
            pages += notifications_for(config.tenant(f.clock.tenant), trigger=trigger, incident=incident, cause=env)
        if f.breached:
            breaches.append((f, fired[-1]))
    await notifications.enqueue(tx.conn, pages)
    for f, breach in breaches:
        await _escalate(tx, config, f, breach, runs)


def _incident(clock: SlaClock, run: EscalationRun | None) -> Incident:
    return run.incident if run else Incident(clock.incident_id, clock.number, "", clock.priority, clock.tier)


async def _escalate(
    tx: Tx, config: TierlineConfig, f: Firing, breach: Envelope, runs: dict[str, EscalationRun]
) -> None:
    # One tier above the tier that owed the response (the incident's when the clock started): a policy step or
    # a person that already took it there, even a moment ago, leaves the breach nothing to ask.
    clock = f.clock
    to_tier = clock.escalates_to()
    run = runs.get(clock.incident_id)
    if to_tier is None or max(clock.tier, run.tier if run else 0) >= to_tier:
        return
    reason = f"{clock.clock} SLA breached"
    tx.emit(
        events.escalation_requested(
            run or clock, from_tier=clock.tier, to_tier=to_tier, reason=reason, at=f.at, cause=breach
        )
    )
    if run is not None:
        after = await paging.reach_tier(tx, config, run, tier=to_tier, at=f.at, reason=reason, cause=breach)
        runs[clock.incident_id] = after


def _observe(claimed: list[SlaClock], firings: list[Firing]) -> None:
    for before, f in zip(claimed, firings, strict=True):
        if before.next_fire_at is not None:
            FIRE_DELAY.observe((f.at - before.next_fire_at).total_seconds())
        if f.breached:
            BREACHES.labels(before.clock, before.priority).inc()
            log.info("sla.breached", tenant=before.tenant, incident_id=before.incident_id, clock=before.clock,
                     late=f.late)  # fmt: skip
