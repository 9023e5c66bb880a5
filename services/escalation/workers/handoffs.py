"""The handoff worker: an unacknowledged incident whose current step pages a schedule is looked at again when
that schedule hands over (or an override changed it), and the incoming person is paged, once: the run is
claimed with SKIP LOCKED (replicas share the work, and never wait on a handler's lock), and saving who is on
call now with the next handoff commits with the pages. A handoff that passed while no replica ran is due at
the next start. Expired acknowledge links are forgotten here too, now and then."""

from __future__ import annotations

import asyncpg

from libs.config.live import LiveConfig
from libs.outbox import Outbox
from libs.uow import Tx
from libs.workers import Worker, claiming
from services.escalation import paging
from services.escalation.store import ack_links, escalation_runs

LINK_RETENTION_DAYS = 7  # a link expired longer ago than this is "unknown" instead of "expired"


def handoff_worker(pool: asyncpg.Pool, outbox: Outbox, live: LiveConfig, *, poll_s: float, batch: int = 100) -> Worker:
    ticks = 0

    async def hand_over_due(tx: Tx) -> int:
        nonlocal ticks
        ticks += 1
        if ticks % 10_000 == 1:  # at the first tick, then every few hours at the 1 s poll
            await ack_links.prune(tx.conn, older_than_days=LINK_RETENTION_DAYS)
        claimed = await escalation_runs.claim_handoffs(tx.conn, limit=batch)
        if claimed is None:
            return 0
        config = live.config()  # one configuration version for the whole tick
        for run in claimed.rows:
            await paging.hand_over(tx, config, run, claimed.at)
        return len(claimed.rows)

    return Worker("oncall-handoffs", claiming(pool, outbox, hand_over_due), poll_s=poll_s, batch=batch)
