"""Triage's event handlers: alerts become incidents; change windows suppress; escalation moves tiers and
reports its SLA clocks.

A whole fetch batch of alerts is applied in one transaction: its alert keys and incidents are locked once,
alerts are applied in order in memory (services/triage/grouping.py), then incidents, alerts, keys and
timeline are written in one statement.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import (
    AlertReceived,
    ChangeIncidentLinked,
    ChangeWindow,
    EscalationRequested,
    IncidentEscalated,
    UnmanagedChangeLinked,
    parse,
)
from libs.events import Envelope
from services.triage import sla, store
from services.triage.actions import Done, unassign_below_tier
from services.triage.domain import Incident
from services.triage.events import incident_event, outcome_event
from services.triage.grouping import Grouping, Outcome
from services.triage.rules import maintenance_windows

log = structlog.get_logger()
ACTOR = "escalation"  # who escalation's requests and SLA news are from, on the timeline


async def on_alerts_received(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    alerts: list[tuple[Envelope, AlertReceived]] = []
    for env in envs:
        alert = parse(env)
        assert isinstance(alert, AlertReceived)
        if config.tenant(env.tenant) is None:  # tenant removed from config after the alert was accepted
            log.warning("triage.unknown_tenant", tenant=env.tenant, event_id=env.id)
            continue
        alerts.append((env, alert))
    return [e for env, o in await triage_alerts(conn, alerts, config) if (e := outcome_event(o, env)) is not None]


async def triage_alerts(
    conn: asyncpg.Connection,
    alerts: list[tuple[Envelope, AlertReceived]],
    config: TierlineConfig,
    *,
    details: Mapping[str, dict[str, Any]] | None = None,
) -> list[tuple[Envelope, Outcome]]:
    """Apply alerts of known tenants, in order, and write what they did: from the bus, or held ones released
    when their window ended (release.py; `details` then adds to their timeline entries)."""
    if not alerts:
        return []
    tenants = {e.tenant for e, _ in alerts}
    cis = [
        (e.tenant, a.ci, a.received_at - rules.correlation_window)
        for e, a in alerts
        if a.ci and (rules := config.tenants_by_id[e.tenant].triage).correlation_window
    ]
    keys, incidents, by_ci, windows = await store.lock_batch(
        conn,
        keys=[(e.tenant, a.dedup_key) for e, a in alerts],
        cis=cis,
        tenants=sorted(tenants),
        since=min(a.received_at for _, a in alerts),
    )
    for t in tenants:
        windows.setdefault(t, []).extend(maintenance_windows(config.tenants_by_id[t]))
    grouping = Grouping(keys, incidents, by_ci, windows)
    outcomes = [(env, grouping.apply(alert, config.tenants_by_id[env.tenant])) for env, alert in alerts]

    touched = list(grouping.touched.values())
    await number_new_incidents(conn, [i for i in touched if i.is_new], config)
    await link_provider_children(conn, [i for i in touched if i.is_new], config)
    alert_rows = [
        (o.alert.alert_id, o.incident.id if o.incident else None, env.tenant, o.alert.status, o.alert.severity,
         o.alert.summary, o.alert.received_at, o.effect, o.alert.dedup_key, o.note,
         json.dumps(o.alert.sanitized) if o.alert.sanitized else None)
        for env, o in outcomes
    ]  # fmt: skip
    # Repeats are counted and listed under the incident's alerts, not on its timeline.
    timeline = [
        (o.incident.id, o.alert.received_at, kind, f"{o.alert.source}:{o.alert.integration}",
         detail | {"alert_id": o.alert.alert_id} | (details or {}).get(o.alert.alert_id, {}))
        for _, o in outcomes if o.incident is not None
        for kind, detail in o.timeline
    ]  # fmt: skip
    last = {(env.tenant, o.alert.dedup_key): (env, o) for env, o in outcomes}  # each key's last word decides
    held = [
        (t, k, o.alert.alert_id, o.held.key, o.held.ends_at, o.alert.received_at, env.encode())
        for (t, k), (env, o) in last.items() if o.held is not None
    ]  # fmt: skip
    unheld = [key for key, (_, o) in last.items() if o.held is None]
    await store.record_batch(
        conn, incidents=touched, alerts=alert_rows, timeline=timeline, keys=list(grouping.touched_keys.values()),
        held=held, unheld=unheld,
    )  # fmt: skip
    # A child resolved or reopened by its alert may resolve or reopen its provider incident.
    parents = [
        o.incident.parent_id for _, o in outcomes if o.effect in ("resolved", "reopened") and o.incident.parent_id
    ]  # type: ignore[union-attr]
    if parents:
        await store.settle_provider_incidents(conn, parents=parents, at=max(a.received_at for _, a in alerts))
    return outcomes


async def number_new_incidents(conn: asyncpg.Connection, new: list[Incident], config: TierlineConfig) -> None:
    """Give new incidents their per-tenant numbers (ACME-42) in the order they opened."""
    firsts = await store.allocate_numbers(conn, counts=dict(Counter(i.tenant for i in new)))
    codes = {t.id: t.code for t in config.tenants}
    for i in sorted(new, key=lambda i: i.opened_at):
        i.number, i.seq = f"{codes[i.tenant]}-{firsts[i.tenant]}", firsts[i.tenant]
        firsts[i.tenant] += 1


async def link_provider_children(conn: asyncpg.Connection, new: list[Incident], config: TierlineConfig) -> None:
    """New incidents from a provider-wide source become children of that fault's provider incident."""
    wide = {p.source for p in config.provider.integrations}
    children = [i for i in new if i.source in wide and i.dedup_key]
    if not children:
        return
    parents = await store.link_provider_incidents(
        conn, hits=[(i.source, i.dedup_key or "", i.title, i.opened_at) for i in children]
    )
    for i in children:
        i.parent_id = parents[(i.source, i.dedup_key or "")]


async def on_escalation_requested(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    req = parse(env)
    assert isinstance(req, EscalationRequested)
    incident = await store.get_incident(conn, ref=req.incident_id, lock=True)
    # Apply only if the incident is still open at the tier the request saw: a stale request changes nothing.
    if incident is None or not incident.is_open or incident.tier != req.from_tier:
        return []
    incident.tier, incident.queue = req.to_tier, f"tier-{req.to_tier}"
    detail = {"from_tier": req.from_tier, "to_tier": req.to_tier, "reason": req.reason}
    payload = IncidentEscalated(
        incident_id=incident.id, number=incident.number, from_tier=req.from_tier, to_tier=req.to_tier,
        reason=req.reason, at=req.at,
    )  # fmt: skip
    done = Done().add("escalated", detail, "incident.escalated", payload)
    tier = config.tiers.get(incident.assignee) if incident.assignee else None
    done = unassign_below_tier(incident, done, ACTOR, req.at, tier)
    steps = [(incident.id, req.at, kind, ACTOR, d) for kind, d in done.steps]
    await store.record_batch(conn, incidents=[incident], timeline=steps)
    return [incident_event(kind, incident, p, cause=env) for kind, p in done.events]


async def on_change_incident_link(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """Show on the incident the change the change service suspects caused it (and a reviewer clearing it), so
    whoever works the incident sees what changed on its CI."""
    link = parse(env)
    assert isinstance(link, ChangeIncidentLinked)
    incident = await store.get_incident(conn, ref=link.incident_id, lock=True)
    if incident is None or incident.tenant != env.tenant:
        return []
    if env.short_type == "change.incident_linked":
        if link.number not in incident.changes:
            incident.changes = [*incident.changes, link.number]
        detail = {"change": link.number, "change_type": link.change_type, "counts_as_failed": link.counts_as_failed}
        step = (incident.id, link.at, "change_suspected", "change", detail)
    else:
        step = (
            incident.id,
            link.at,
            "change_cleared",
            link.by or "change",
            {"change": link.number, "reason": link.reason},
        )
    await store.record_batch(conn, incidents=[incident], timeline=[step])
    return []


async def on_unmanaged_change_link(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """A tool reported a change on the incident's CI just before it opened: put it on the incident's timeline."""
    link = parse(env)
    assert isinstance(link, UnmanagedChangeLinked)
    incident = await store.get_incident(conn, ref=link.incident_id, lock=True)
    if incident is None or incident.tenant != env.tenant:
        return []
    detail = {"source": link.source, "summary": link.summary, "changed_at": link.changed_at.isoformat(),
              "signal_id": link.signal_id}  # fmt: skip
    step = (incident.id, link.at, "unmanaged_change_suspected", "change", detail)
    await store.record_batch(conn, incidents=[incident], timeline=[step])
    return []


async def on_change_window(conn: asyncpg.Connection, env: Envelope) -> list[Envelope]:
    """Keep triage's own copy of the change windows in progress (suppression reads it)."""
    w = parse(env)
    assert isinstance(w, ChangeWindow)
    if env.short_type == "change.window_started":
        await store.window_started(conn, tenant=env.tenant, w=w)
    else:
        await store.window_ended(conn, tenant=env.tenant, change_id=w.change_id, at=w.at)
    return []


async def on_sla_events(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
    """Escalation's clock news for a whole batch (a clock starts with every new incident, so this is on the
    path of each): one read and one write, whatever the kinds, applied in order per incident."""
    if not envs:
        return []
    ids = [i for e in envs if isinstance(i := e.data.get("incident_id"), str)]
    found = await store.lock_sla(conn, incident_ids=ids)
    for env in envs:
        row = found.get(str(env.data.get("incident_id")))
        if row is None or row.tenant != env.tenant:
            continue
        entry = sla.apply(row.sla, env.short_type, env.data)
        row.at_risk |= env.short_type == "sla.warning"
        row.breached |= env.short_type == "sla.breached"
        if entry is not None:
            kind, at, detail = entry
            row.timeline.append((datetime.fromisoformat(at) if isinstance(at, str) else env.time, kind, detail))
    due = {r.id: datetime.fromisoformat(d) if (d := sla.deadline(r.sla)) else None for r in found.values()}
    await store.save_sla(conn, rows=list(found.values()), due=due)
    return []


def make_apply(config: TierlineConfig) -> Callable[[asyncpg.Connection, list[Envelope]], Awaitable[list[Envelope]]]:
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        # Change windows first, so alerts in the same batch see them; alerts in bulk; the rest in order.
        raised: list[Envelope] = []
        for env in envs:
            if env.short_type.startswith("change.window_"):
                raised += await on_change_window(conn, env)
        raised += await on_alerts_received(conn, [e for e in envs if e.short_type == "alert.received"], config)
        raised += await on_sla_events(conn, [e for e in envs if e.short_type in sla.EVENTS])
        for env in envs:
            if handler := SINGLE_HANDLERS.get(env.short_type):
                raised += await handler(conn, env, config)
        return raised

    return apply


SINGLE_HANDLERS = {
    "escalation.requested": on_escalation_requested,
    "change.incident_linked": on_change_incident_link,
    "change.incident_cleared": on_change_incident_link,
    "change.unmanaged_linked": on_unmanaged_change_link,
}
# What triage consumes, by event type (the consumer's subject filters are built from these).
HANDLERS = ["alert.received", "change.window_started", "change.window_ended", *sla.EVENTS, *SINGLE_HANDLERS]
