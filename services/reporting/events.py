"""What reporting publishes. No bus events: the ledger is the end of every chain (it serves reports instead).
What it does publish is its live figures, on reporting's /metrics for Prometheus: open incidents by tenant,
priority and tier, this month's SLA breaches, and a histogram of time to acknowledge. They are set here."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Gauge, Histogram

from services.reporting.store import Acknowledgement, LiveFigures

OPEN = Gauge("tierline_open_incidents", "Incidents not yet resolved", ["tenant", "priority", "tier"])
BREACHES = Gauge("tierline_sla_breaches_this_month", "SLA breaches recorded this UTC month", ["tenant", "clock"])
MTTA = Histogram(
    "tierline_time_to_acknowledge_seconds",
    "Incident opened to first acknowledgement",
    ["tenant", "priority"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400),
)


def observe_acknowledgements(acks: Iterable[Acknowledgement]) -> None:
    """Observed as acknowledgements are first recorded (a histogram cannot be re-read from the database)."""
    for ack in acks:
        MTTA.labels(ack.tenant, ack.priority).observe(max(0.0, ack.seconds))


def show_live_figures(figures: LiveFigures) -> None:
    """The gauges as PostgreSQL says now, so every replica reports the same, restart or not."""
    OPEN.clear()
    for o in figures.open:
        OPEN.labels(o.tenant, o.priority, str(o.tier)).set(o.count)
    BREACHES.clear()
    for b in figures.breaches:
        BREACHES.labels(b.tenant, b.clock).set(b.count)
