"""Live figures for Prometheus, on reporting's /metrics: open incidents by tenant, priority and tier,
this month's SLA breaches, and a histogram of time to acknowledge (observed as acknowledgements arrive)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Gauge, Histogram

from libs.events import utcnow
from libs.timer import Poller
from services.reporting import store
from services.reporting.domain.period import calendar_month

OPEN = Gauge("tierline_open_incidents", "Incidents not yet resolved", ["tenant", "priority", "tier"])
BREACHES = Gauge("tierline_sla_breaches_this_month", "SLA breaches recorded this UTC month", ["tenant", "clock"])
MTTA = Histogram(
    "tierline_time_to_acknowledge_seconds",
    "Incident opened to first acknowledgement",
    ["tenant", "priority"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400),
)


def observe_acks(acks: list[tuple]) -> None:
    for tenant, priority, seconds in acks:
        MTTA.labels(tenant, priority).observe(max(0.0, seconds))


def refresher(pool: asyncpg.Pool, *, every_s: float = 5.0) -> Poller:
    """Re-reads the gauges from PostgreSQL, so every replica reports the same, restart or not."""

    async def refresh() -> int:
        async with pool.acquire() as conn:
            open_, breaches = await store.live_figures(conn, month_start=calendar_month(utcnow()).start)
        OPEN.clear()
        for tenant, priority, tier, n in open_:
            OPEN.labels(tenant, priority, str(tier)).set(n)
        BREACHES.clear()
        for tenant, clock, n in breaches:
            BREACHES.labels(tenant, clock).set(n)
        return 0

    return Poller("live-metrics", refresh, poll_s=every_s, batch=1)
