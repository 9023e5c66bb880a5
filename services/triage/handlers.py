"""Triage's event handlers: alerts become incidents; escalation requests move incidents up a tier.

A whole fetch batch is applied in one transaction: open incidents are locked once, alerts are applied
in order in memory, then incidents, alerts, timeline and raised events are written in a few statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import (
    AlertReceived,
    EscalationRequested,
    IncidentAlertAdded,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    parse,
)
from libs.events import Envelope, raise_event
from services.triage import store
from services.triage.domain import Incident, apply_alert

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


async def on_alerts_received(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    alerts = [(env, parse(env)) for env in envs]
    cache = await store.lock_open_incidents(conn, keys=[(e.tenant, a.dedup_key) for e, a in alerts])  # type: ignore[attr-defined]
    effects: list[tuple[str, Incident | None, Envelope, AlertReceived]] = []
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
        effects.append((effect, incident, env, alert))

    new = [i for i in touched.values() if i.is_new]
    firsts = await store.allocate_numbers(conn, counts=dict(Counter(i.tenant for i in new)))
    codes = {t.id: t.code for t in config.tenants}
    for i in sorted(new, key=lambda i: i.opened_at):
        i.number = f"{codes[i.tenant]}-{firsts[i.tenant]}"
        firsts[i.tenant] += 1

    raised: list[Envelope] = []
    alert_rows: list[tuple[Any, ...]] = []
    timeline: list[tuple[str, Any, str, str, dict[str, Any]]] = []
    for effect, incident, env, alert in effects:
        iid = incident.id if incident else None
        alert_rows.append(
            (alert.alert_id, iid, env.tenant, alert.status, alert.severity, alert.summary, alert.received_at, effect)
        )
        if incident is None:
            continue
        actor = f"{alert.source}:{alert.integration}"
        if effect != "alert_added":  # repeats are counted and listed under `alerts`, not on the timeline
            timeline.append((incident.id, alert.received_at, effect, actor, {"alert_id": alert.alert_id}))
        if effect == "opened":
            raised.append(opened_event(incident, env, alert.alert_id))
        elif effect == "alert_added":
            payload = IncidentAlertAdded(
                incident_id=incident.id,
                number=incident.number,
                alert_id=alert.alert_id,
                occurrences=incident.occurrences,
                severity=alert.severity,
                last_seen=alert.received_at,
            )
            raised.append(
                raise_event(
                    "incident.alert_added", payload, source=SOURCE, tenant=env.tenant, subject=incident.id, cause=env
                )
            )
        elif effect == "resolved":
            payload2 = IncidentResolved(
                incident_id=incident.id,
                number=incident.number,
                by=actor,
                at=alert.received_at,
                reason="alert_resolved",
                alert_id=alert.alert_id,
            )
            raised.append(
                raise_event(
                    "incident.resolved", payload2, source=SOURCE, tenant=env.tenant, subject=incident.id, cause=env
                )
            )
    await store.record_batch(conn, incidents=list(touched.values()), alerts=alert_rows, timeline=timeline)
    return raised


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
        raised = await on_alerts_received(conn, [e for e in envs if e.short_type == "alert.received"], config)
        for env in envs:
            if env.short_type == "escalation.requested":
                raised += await on_escalation_requested(conn, env)
        return raised

    return apply


# What triage consumes, by event type (the consumer's subject filters are built from these).
HANDLERS = {"alert.received": on_alerts_received, "escalation.requested": on_escalation_requested}
