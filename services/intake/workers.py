"""Intake's one worker: the watch on triage's backlog that makes intake answer 503 rather than queue alerts that
cannot be processed in time (domain/backlog.py says when). It claims nothing: it asks JetStream."""

from __future__ import annotations

import structlog

from libs.bus import Bus
from libs.settings import Settings
from libs.workers import Worker
from services.intake.domain.backlog import TriageBacklog

TRIAGE_CONSUMER = "triage"  # the consumer whose lag bounds what intake accepts
BACKLOG_EVERY_S = 0.5
log = structlog.get_logger()


def backlog_watch(bus: Bus, backlog: TriageBacklog, settings: Settings) -> Worker:
    subject = bus.subject("alert.received")

    async def measure() -> int:
        try:
            messages, seconds = await bus.backlog(TRIAGE_CONSUMER, subject)
        except Exception:  # consumer not created yet, or NATS reconnecting: keep accepting
            backlog.unknown()
            return 0
        limits = {"max_messages": settings.intake_max_lag, "max_seconds": settings.intake_max_lag_s}
        if backlog.measured(messages, seconds, **limits):
            log.warning("intake.overload_changed", overloaded=backlog.overloaded, lag=messages, lag_s=seconds)
        return 0

    return Worker("triage-backlog", measure, poll_s=BACKLOG_EVERY_S)
