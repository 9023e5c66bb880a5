"""The escalation step timer: an incident still unacknowledged when its step runs out moves to the next step
(paging its targets, and asking triage for the step's tier if it is higher); after the last step the policy
repeats up to `repeat` times. Claimed with SKIP LOCKED and committed with its events, like the deadlines."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.config.live import LiveConfig
from libs.outbox import Outbox
from libs.uow import Tx
from libs.workers import Worker, claiming
from services.escalation import events, paging
from services.escalation.domain.run import EscalationRun
from services.escalation.store import escalation_runs

log = structlog.get_logger()


def step_timer(pool: asyncpg.Pool, outbox: Outbox, live: LiveConfig, *, poll_s: float, batch: int = 200) -> Worker:
    async def advance_due(tx: Tx) -> int:
        config = live.config()  # one configuration version for the whole tick
        claimed = await escalation_runs.claim_due(tx.conn, limit=batch)
        if claimed is None:
            return 0
        for run in claimed.rows:
            await _advance(tx, config, run, claimed.at)
        return len(claimed.rows)

    return Worker("escalation-steps", claiming(pool, outbox, advance_due), poll_s=poll_s, batch=batch)


async def _advance(tx: Tx, config: TierlineConfig, run: EscalationRun, at: datetime) -> None:
    after = run.advance(at)
    if after.state == "exhausted":
        await escalation_runs.save(tx.conn, after)
        log.info("escalation.policy_exhausted", tenant=run.tenant, incident_id=run.incident_id)
        return
    reason = f"not acknowledged within {run.current.after_s:g}s of escalation step {run.step + 1}"
    request = None
    if after.tier > run.tier:
        request = events.escalation_requested(
            run, from_tier=run.tier, to_tier=after.tier, reason=reason, at=at, cause=None
        )
        tx.emit(request)
    await paging.begin_step(tx, config, after, reason=reason, cause=request)
