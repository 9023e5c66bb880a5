"""Alerts held during a change or maintenance window are triaged again when it ends.

A suppressed alert that nothing resolved is still firing when its window ends: the change left the CI
broken, or the maintenance did not fix it. Monitoring tools do not repeat a firing alert for hours
(Alertmanager's repeat_interval is 4 h by default), so Tierline does: the held alert is applied again as if
it arrived when the window ended (or when it really arrived, if that was later: triage may learn of an
early end a moment after an alert), and opens or joins an incident like any other. Releasing, the rows it
writes and the events it raises commit together, once, whichever replica runs it.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import AlertReceived, parse
from libs.events import Envelope, utcnow
from libs.outbox import Outbox, stage
from libs.timer import Polled, Poller
from services.triage import store
from services.triage.events import outcome_event
from services.triage.handlers import triage_alerts

log = structlog.get_logger()


def released_note(held_by: str) -> str:
    kind, _, ref = held_by.partition(":")
    return f"still firing after change {ref}" if kind == "change" else f"still firing after {ref}"


class Releaser(Polled):
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, config: TierlineConfig, *, poll_s: float) -> None:
        self.pool, self.outbox, self.config, self.batch = pool, outbox, config, 200
        self.poller = Poller("release-held", self.release_due, poll_s=poll_s, batch=self.batch)

    async def release_due(self) -> int:
        # Lock order differs from the consumer's (held row, then key; the consumer: key, then held row): a
        # new alert on a held key in the very same moment can deadlock, PostgreSQL aborts one and both retry.
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_held(conn, now=utcnow(), limit=self.batch)
            if not rows:
                return 0
            alerts: list[tuple[Envelope, AlertReceived]] = []
            details: dict[str, dict[str, Any]] = {}
            for r in rows:
                try:
                    env = Envelope.decode(r["envelope"])
                    alert = parse(env)
                    assert isinstance(alert, AlertReceived)
                except Exception as exc:  # unreadable (a payload older than this code): dropped, not retried forever
                    log.error("triage.held_alert_unreadable", alert_id=r["alert_id"], error=repr(exc))
                    continue
                if self.config.tenant(env.tenant) is None:
                    continue  # the tenant left the config meanwhile
                at = max(alert.received_at, r["held_until"])
                alerts.append((env, alert.model_copy(update={"received_at": at})))
                details[alert.alert_id] = {"held_by": r["held_by"], "held_since": alert.received_at.isoformat()}
            alerts.sort(key=lambda pair: pair[1].received_at)
            outcomes = await triage_alerts(conn, alerts, self.config, details=details)
            released = [
                (o.alert.alert_id, o.incident.id if o.incident else None, o.effect,
                 released_note(details[o.alert.alert_id]["held_by"]))
                for _, o in outcomes if o.held is None
            ]  # fmt: skip
            if released:
                await store.mark_released(conn, alerts=released)
            await stage(conn, self.outbox.bus, [e for env, o in outcomes if (e := outcome_event(o, env))])
        for alert_id, _, effect, note in released:
            log.info("triage.held_alert_released", alert_id=alert_id, effect=effect, note=note)
        self.outbox.kick()
        return len(rows)
