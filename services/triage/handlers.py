"""Triage's event handlers: alerts become incidents; escalation requests move incidents up a tier.

A whole fetch batch is applied in one transaction: open incidents are locked once, alerts are applied
in order in memory, then incidents, alerts, timeline and raised events are written in a few statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import (
    AlertReceived,
    Contract,
    EscalationRequested,
    IncidentAcknowledged,
    IncidentAlertAdded,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    parse,
)
from libs.events import Envelope, raise_event
from services.triage import store
from services.triage.domain import Effect, Incident, apply_alert

log = structlog.get_logger()
SOURCE = "triage"


def opened_event(i: Incident, cause: Envelope, alert_id: str) -> Envelope:
    payload = IncidentOpened(
        incident_id=i.id,
        number=i.number,
        title=i.title,
        priority=i.priority,
        impact=i.impact,
        urgency=i.urgency,
        category=i.category,
        ci=i.ci,
        tier=i.tier,
        dedup_key=i.dedup_key,
        source=i.source,
        opened_at=i.opened_at,
        detected_at=i.detected_at,
        alert_id=alert_id,
    )
    return raise_event("incident.opened", payload, source=SOURCE, tenant=i.tenant, subject=i.id, cause=cause)


@dataclass
class Outcome:
    """What one alert did, captured when it did it (a later alert in the batch may change the incident)."""

    effect: Effect
    incident: Incident | None
    env: Envelope
    alert: AlertReceived
    occurrences: int


def outcome_event(o: Outcome) -> Envelope | None:
    i, a, env = o.incident, o.alert, o.env
    if i is None or o.effect == "ack_ignored":
        return None
    if o.effect == "opened":
        return opened_event(i, env, a.alert_id)
    payload: Contract
    if o.effect == "alert_added":
        payload = IncidentAlertAdded(
            incident_id=i.id, number=i.number, alert_id=a.alert_id, occurrences=o.occurrences,
            severity=a.severity, last_seen=a.received_at,
        )  # fmt: skip
    elif o.effect == "acknowledged":
        payload = IncidentAcknowledged(
            incident_id=i.id, number=i.number, by=f"{a.source}:{a.integration}", at=a.received_at
        )
    else:
        payload = IncidentResolved(
            incident_id=i.id, number=i.number, by=f"{a.source}:{a.integration}", at=a.received_at,
            reason="alert_resolved", alert_id=a.alert_id,
        )  # fmt: skip
    return raise_event(f"incident.{o.effect}", payload, source=SOURCE, tenant=env.tenant, subject=i.id, cause=env)


async def on_alerts_received(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    alerts = [(env, parse(env)) for env in envs]
    cache = await store.lock_open_incidents(conn, keys=[(e.tenant, a.dedup_key) for e, a in alerts])  # type: ignore[attr-defined]
    outcomes: list[Outcome] = []
    touched: dict[str, Incident] = {}
    for env, alert in alerts:
        assert isinstance(alert, AlertReceived)
        tenant = config.tenant(env.tenant)
        if tenant is None:  # tenant removed from config after the alert was accepted
            log.warning("triage.unknown_tenant", tenant=env.tenant, event_id=env.id)
            continue
        key = (env.tenant, alert.dedup_key)
        effect, incident = apply_alert(cache.get(key), alert, tenant)
        if incident is not None:
            touched[incident.id] = incident
            if incident.state == "resolved":
                cache.pop(key, None)
            else:
                cache[key] = incident
        outcomes.append(Outcome(effect, incident, env, alert, incident.occurrences if incident else 0))

    await number_new_incidents(conn, [i for i in touched.values() if i.is_new], config)
    alert_rows = [
        (o.alert.alert_id, o.incident.id if o.incident else None, o.env.tenant, o.alert.status, o.alert.severity,
         o.alert.summary, o.alert.received_at, o.effect)
        for o in outcomes
    ]  # fmt: skip
    # Repeats are counted and listed under the incident's alerts, not on its timeline.
    timeline = [
        (o.incident.id, o.alert.received_at, o.effect, f"{o.alert.source}:{o.alert.integration}",
         {"alert_id": o.alert.alert_id})
        for o in outcomes
        if o.incident is not None and o.effect not in ("alert_added", "ack_ignored")
    ]  # fmt: skip
    await store.record_batch(conn, incidents=list(touched.values()), alerts=alert_rows, timeline=timeline)
    return [e for o in outcomes if (e := outcome_event(o)) is not None]


async def number_new_incidents(conn: asyncpg.Connection, new: list[Incident], config: TierlineConfig) -> None:
    """Give new incidents their per-tenant numbers (ACME-42) in the order they opened."""
    firsts = await store.allocate_numbers(conn, counts=dict(Counter(i.tenant for i in new)))
    codes = {t.id: t.code for t in config.tenants}
    for i in sorted(new, key=lambda i: i.opened_at):
        i.number = f"{codes[i.tenant]}-{firsts[i.tenant]}"
        firsts[i.tenant] += 1


async def on_escalation_requested(conn: asyncpg.Connection, env: Envelope) -> list[Envelope]:
    req = parse(env)
    assert isinstance(req, EscalationRequested)
    incident = await store.get_incident(conn, ref=req.incident_id, lock=True)
    # Apply only if the incident is still open at the tier the request saw: a stale request changes nothing.
    if incident is None or incident.state in ("resolved", "closed") or incident.tier != req.from_tier:
        return []
    incident.tier = req.to_tier
    detail = {"from_tier": req.from_tier, "to_tier": req.to_tier, "reason": req.reason}
    await store.record_batch(
        conn, incidents=[incident], alerts=[], timeline=[(incident.id, req.at, "escalated", "escalation", detail)]
    )
    payload = IncidentEscalated(
        incident_id=incident.id,
        number=incident.number,
        from_tier=req.from_tier,
        to_tier=req.to_tier,
        reason=req.reason,
        at=req.at,
    )
    return [
        raise_event("incident.escalated", payload, source=SOURCE, tenant=env.tenant, subject=incident.id, cause=env)
    ]


def make_apply(
    config: TierlineConfig,
) -> Callable[[asyncpg.Connection, list[Envelope]], Awaitable[list[Envelope]]]:
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        # Alerts in bulk (one lock query, one write for the batch); the rest one by one, in order.
        raised = await on_alerts_received(conn, [e for e in envs if e.short_type == "alert.received"], config)
        for env in envs:
            if handler := SINGLE_HANDLERS.get(env.short_type):
                raised += await handler(conn, env)
        return raised

    return apply


SINGLE_HANDLERS = {"escalation.requested": on_escalation_requested}
# What triage consumes, by event type (the consumer's subject filters are built from these).
HANDLERS = ["alert.received", *SINGLE_HANDLERS]
