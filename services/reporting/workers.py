"""Reporting's one worker: the live-figure gauges on /metrics, re-read from PostgreSQL every few seconds.

It claims nothing (the figures are counts over the ledger and live_incidents), so it reads outside a unit of
work; libs.workers gives it the loop and the back-off while the database is away.
"""

from __future__ import annotations

import asyncpg

from libs.events import utcnow
from libs.workers import Worker
from services.reporting import store
from services.reporting.domain.period import calendar_month
from services.reporting.events import show_live_figures

GAUGES_EVERY_S = 5.0


def live_gauges(pool: asyncpg.Pool, *, every_s: float = GAUGES_EVERY_S) -> Worker:
    async def refresh() -> int:
        async with pool.acquire() as conn:
            figures = await store.live_figures(conn, month_start=calendar_month(utcnow()).start)
        show_live_figures(figures)
        return 0

    return Worker("live-metrics", refresh, poll_s=every_s)
