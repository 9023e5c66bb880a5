"""Paging inside a unit of work, for handlers and workers alike: a policy run that moved to a step is saved,
its `escalation.step_started` emitted and the step's targets paged; a tier reached moves a running policy to
that tier's step; notifications are queued in the transaction of their cause, so they are sent once it commits
(and never for a cause rolled back)."""

from __future__ import annotations

from datetime import datetime

from libs.config import TierlineConfig, Trigger
from libs.events import Envelope
from libs.uow import Tx
from services.escalation import events
from services.escalation.domain.notifications import Incident, notifications_for
from services.escalation.domain.run import EscalationRun
from services.escalation.store import escalation_runs, notifications


async def notify(
    tx: Tx, config: TierlineConfig, *, tenant: str, trigger: Trigger, incident: Incident, cause: Envelope
) -> None:
    """Queue a notification to each of the tenant's targets that wants `trigger` (a replayed cause: none)."""
    found = notifications_for(config.tenant(tenant), trigger=trigger, incident=incident, cause=cause)
    await notifications.enqueue(tx.conn, found)


async def begin_step(
    tx: Tx, config: TierlineConfig, run: EscalationRun, *, reason: str, cause: Envelope | None
) -> None:
    """`run` just moved to a step: save it, emit `escalation.step_started` and page the step's targets."""
    await escalation_runs.save(tx.conn, run)
    started = events.step_started(run, reason=reason, cause=cause)
    tx.emit(started)
    await notifications.enqueue(tx.conn, run.pages(config.tenant(run.tenant), started))


async def reach_tier(
    tx: Tx, config: TierlineConfig, run: EscalationRun, *, tier: int, at: datetime, reason: str, cause: Envelope
) -> EscalationRun:
    """The incident reached (or was asked up to) `tier`: a running policy moves to that tier's step and pages
    it; otherwise only the tier is remembered. Returns the run as saved."""
    after, stepped = run.reach(tier, at)
    if stepped:
        await begin_step(tx, config, after, reason=reason, cause=cause)
    else:
        await escalation_runs.save(tx.conn, after)
    return after
