"""Triage's workers: held alerts released when their window ends, silent heartbeats raising their alert, resolved
incidents closed after a while.

**Releasing.** A suppressed alert that nothing resolved is still firing when its window ends: the change
left the CI broken, or the maintenance did not fix it. Monitoring tools do not repeat a firing alert for
hours (Alertmanager's repeat_interval is 4 h by default), so Tierline does: the held alert is applied again
as if it arrived when the window ended (or when it really arrived, if that was later: triage may learn of
an early end a moment after an alert), and opens or joins an incident like any other.

**Late heartbeats.** A heartbeat past its deadline (domain/heartbeats.py) raises its "no heartbeat" alert
through the same path as any alert, once per late spell: the row's deadline is cleared in the transaction that
opens the incident.

**Auto-close.** Resolved incidents close themselves after the tenant's `triage.close_after` (ITSM's
auto-close).

Each claims its due rows with SKIP LOCKED and commits them with their events, once, whichever replica runs it.
"""

from __future__ import annotations

from typing import Any

import structlog

from libs.config import TierlineConfig
from libs.config.live import LiveConfig
from libs.contracts import AlertReceived, IncidentClosed
from libs.events import Envelope, utcnow
from libs.runtime import Resources
from libs.subscriptions import Message, as_message
from libs.uow import Tx
from libs.workers import Worker, claiming
from services.triage import store
from services.triage.alerts import Raised, triage_alerts, triage_own
from services.triage.domain import heartbeats
from services.triage.events import incident_event, outcome_event
from services.triage.store import HeldAlert, Released, TimelineEntry

log = structlog.get_logger()
BATCH = 200
CLOSER = "triage:auto-close"


def released_note(held_by: str) -> str:
    kind, _, ref = held_by.partition(":")
    return f"still firing after change {ref}" if kind == "change" else f"still firing after {ref}"


def _readable(row: HeldAlert, config: TierlineConfig) -> Message[AlertReceived] | None:
    try:
        message = as_message(Envelope.decode(row.envelope))
    except Exception as exc:  # unreadable (a payload older than this code): dropped, not retried forever
        log.error("triage.held_alert_unreadable", alert_id=row.alert_id, error=repr(exc))
        return None
    if not isinstance(message.payload, AlertReceived) or config.tenant(message.tenant) is None:
        return None  # not an alert, or the tenant left the config meanwhile
    at = max(message.payload.received_at, row.held_until)
    return Message(message.envelope, message.payload.model_copy(update={"received_at": at}))


async def release_held(tx: Tx, config: TierlineConfig) -> int:
    # Lock order differs from the consumer's (held row, then key; the consumer: key, then held row): a new
    # alert on a held key in the very same moment can deadlock, PostgreSQL aborts one and both retry.
    rows = await store.claim_held(tx.conn, now=utcnow(), limit=BATCH)
    if not rows:
        return 0
    alerts: list[Message[AlertReceived]] = []
    details: dict[str, dict[str, Any]] = {}
    for row in rows:
        if (m := _readable(row, config)) is not None:
            alerts.append(m)
            details[row.alert_id] = {"held_by": row.held_by, "held_since": row.received_at.isoformat()}
    alerts.sort(key=lambda m: m.payload.received_at)
    outcomes = await triage_alerts(tx.conn, alerts, config, details=details)
    released = [
        Released(o.alert.alert_id, o.incident.id if o.incident else None, o.effect,
                 released_note(details[o.alert.alert_id]["held_by"]))
        for _, o in outcomes if o.held is None
    ]  # fmt: skip
    if released:
        await store.mark_released(tx.conn, alerts=released)
    tx.emit_all(outcome_event(o, m.envelope) for m, o in outcomes)
    for r in released:
        log.info("triage.held_alert_released", alert_id=r.alert_id, effect=r.effect, note=r.note)
    return len(rows)


async def fire_late_heartbeats(tx: Tx, config: TierlineConfig) -> int:
    now = utcnow()
    rows = await store.claim_late_heartbeats(tx.conn, now=now, limit=BATCH)
    raised: list[Raised] = []
    owners = {}
    for row in rows:
        tenant = config.tenant(row.tenant)
        spec = tenant.heartbeat_index.get(row.name) if tenant else None
        if spec is None:  # no longer configured: nothing left to watch
            row.due_at = None
        elif (alert := heartbeats.fire_if_late(row, spec, now)) is not None:
            raised.append((row.tenant, alert, None))
            owners[alert.alert_id] = row
    for alert_id, incident_id in (await triage_own(tx, raised, config)).items():
        owners[alert_id].incident_id = incident_id or owners[alert_id].incident_id
    await store.save_heartbeats(tx.conn, states=rows)
    for _, alert, _ in raised:
        log.warning("triage.heartbeat_late", heartbeat=alert.integration, summary=alert.summary)
    return len(rows)


async def close_resolved(tx: Tx, after_s: dict[str, float]) -> int:
    now = utcnow()
    closed = await store.close_resolved(tx.conn, after_s=after_s, at=now, limit=BATCH)
    if not closed:
        return 0
    steps = [TimelineEntry(i.id, now, "closed", CLOSER, {"after_s": after_s[i.tenant]}) for i in closed]
    await store.record_batch(tx.conn, incidents=[], timeline=steps)
    tx.emit(*[
        incident_event("incident.closed", i, IncidentClosed(incident_id=i.id, number=i.number, by=CLOSER, at=now))
        for i in closed
    ])  # fmt: skip
    return len(closed)


def _close_after(config: TierlineConfig) -> dict[str, float]:
    return {t.id: s for t in config.tenants if (s := t.triage.close_after.total_seconds()) > 0}


async def _close_resolved(tx: Tx, config: TierlineConfig) -> int:
    after_s = _close_after(config)
    return await close_resolved(tx, after_s) if after_s else 0  # no tenant closes: nothing to ask the database


def workers(res: Resources, live: LiveConfig, *, poll_s: float) -> list[Worker]:
    """Held alerts and late heartbeats are looked for as often as the deadline timers. Closing is not urgent: every
    few seconds (20 x that; a minute at most). Each tick takes the configuration version in force then, once."""
    return [
        Worker("release-held", claiming(res.pool, res.outbox, lambda tx: release_held(tx, live.config())), poll_s,
               BATCH),
        Worker("late-heartbeats", claiming(res.pool, res.outbox, lambda tx: fire_late_heartbeats(tx, live.config())),
               poll_s, BATCH),
        Worker("auto-close", claiming(res.pool, res.outbox, lambda tx: _close_resolved(tx, live.config())),
               min(60.0, poll_s * 20), BATCH),
    ]  # fmt: skip
