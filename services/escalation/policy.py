"""The escalation step timer: an incident still unacknowledged when its step runs out moves to the next step
(paging its targets, and asking triage for the step's tier if it is higher); after the last step the policy
repeats up to `repeat` times. Claimed with SKIP LOCKED and committed with its events, like the deadlines."""

from __future__ import annotations

import json

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.events import Envelope
from libs.outbox import Outbox, stage
from libs.timer import Polled, Poller
from services.escalation import store
from services.escalation.domain import next_step
from services.escalation.outgoing import escalation_request, start_step

log = structlog.get_logger()


class StepTimer(Polled):
    def __init__(
        self, pool: asyncpg.Pool, outbox: Outbox, config: TierlineConfig, *, poll_s: float, batch: int = 200
    ) -> None:
        self.pool, self.outbox, self.config = pool, outbox, config
        self.poller = Poller("escalation-steps", self.advance_due, poll_s=poll_s, batch=batch)
        self.batch = batch

    async def advance_due(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_due_runs(conn, limit=self.batch)
            events: list[Envelope] = []
            for row in rows:
                events += await self._advance(conn, dict(row))
            await stage(conn, self.outbox.bus, events)
        if events:
            self.outbox.kick()
        return len(rows)

    async def _advance(self, conn: asyncpg.Connection, run: dict) -> list[Envelope]:
        steps = json.loads(run["steps"])
        nxt = next_step(run["step"], run["round"], len(steps), run["repeat"])
        if nxt is None:
            await store.update_run(conn, incident_id=run["incident_id"], state="exhausted", step_due_at=None)
            log.info("escalation.policy_exhausted", tenant=run["tenant"], incident_id=str(run["incident_id"]))
            return []
        step, round_ = nxt
        spec, at = steps[step], run["fired_at"]
        waited = steps[run["step"]]["after_s"]
        reason = f"not acknowledged within {waited:g}s of escalation step {run['step'] + 1}"
        events = []
        if spec["tier"] > run["tier"]:
            events.append(
                escalation_request(run, from_tier=run["tier"], to_tier=spec["tier"], reason=reason, at=at, cause=None)
            )
            run["tier"] = spec["tier"]
        events.append(
            await start_step(
                conn,
                self.config,
                run,
                step=step,
                round_=round_,
                at=at,
                reason=reason,
                cause=events[0] if events else None,
            )
        )
        return events
