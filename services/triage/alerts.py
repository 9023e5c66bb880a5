"""Triage's batch core: a batch of alerts becomes incident updates, in one transaction.

Its alert keys and incidents are locked once (store.lock_batch), the alerts are applied in order in memory
(domain/grouping.py), then incidents, alerts, keys, held alerts and timeline are written in one statement.
Callers: the consumer (handlers.on_alerts_received), the releaser of held alerts (workers.py), and the alerts
triage raises itself for a silent heartbeat or a failing control (`triage_own`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import asyncpg

from libs.config import TierlineConfig
from libs.contracts import AlertReceived
from libs.events import Envelope, raise_event
from libs.subscriptions import Message
from libs.uow import Tx
from services.triage import store
from services.triage.domain.grouping import Grouping, Outcome
from services.triage.domain.incident import Incident
from services.triage.domain.rules import maintenance_windows
from services.triage.events import outcome_event
from services.triage.store import AlertRow, HeldAlert, ProviderHit, TimelineEntry

Triaged = tuple[Message[AlertReceived], Outcome]
Raised = tuple[str, AlertReceived, Envelope | None]  # (tenant, the alert, the event that caused it)


async def triage_alerts(
    conn: asyncpg.Connection,
    alerts: list[Message[AlertReceived]],
    config: TierlineConfig,
    *,
    details: Mapping[str, dict[str, Any]] | None = None,
) -> list[Triaged]:
    """Apply alerts of known tenants, in order, and write what they did: from the bus, or held ones released
    when their window ended (`details` then adds to their timeline entries)."""
    if not alerts:
        return []
    grouping = await _grouping(conn, alerts, config)
    outcomes = [(m, grouping.apply(m.payload, config.tenants_by_id[m.tenant])) for m in alerts]
    touched = list(grouping.touched.values())
    await number_new_incidents(conn, [i for i in touched if i.is_new], config)
    await link_provider_children(conn, [i for i in touched if i.is_new], config)
    held, unheld = _held(outcomes)
    await store.record_batch(
        conn, incidents=touched, alerts=[_alert_row(m, o) for m, o in outcomes], timeline=_timeline(outcomes, details),
        keys=list(grouping.touched_keys.values()), held=held, unheld=unheld,
    )  # fmt: skip
    # A child resolved or reopened by its alert may resolve or reopen its provider incident.
    parents = [o.incident.parent_id for _, o in outcomes if o.effect in ("resolved", "reopened") and o.incident]
    if parents := [p for p in parents if p]:
        await store.settle_provider_incidents(conn, parents=parents, at=max(m.payload.received_at for m in alerts))
    return outcomes


async def _grouping(conn: asyncpg.Connection, alerts: list[Message[AlertReceived]], config: TierlineConfig) -> Grouping:
    """The batch's view, locked: its keys and their incidents, open incidents on its CIs, windows in force."""
    tenants = {m.tenant for m in alerts}
    cis = [
        (m.tenant, m.payload.ci, m.payload.received_at - rules.correlation_window)
        for m in alerts
        if m.payload.ci and (rules := config.tenants_by_id[m.tenant].triage).correlation_window
    ]
    view = await store.lock_batch(
        conn,
        keys=[(m.tenant, m.payload.dedup_key) for m in alerts],
        cis=cis,
        tenants=sorted(tenants),
        since=min(m.payload.received_at for m in alerts),
    )
    for t in tenants:
        view.windows.setdefault(t, []).extend(maintenance_windows(config.tenants_by_id[t]))
    return Grouping(view.keys, view.incidents, view.by_ci, view.windows)


def _alert_row(m: Message[AlertReceived], o: Outcome) -> AlertRow:
    a = o.alert
    return AlertRow(
        alert_id=a.alert_id, incident_id=o.incident.id if o.incident else None, tenant=m.tenant, status=a.status,
        severity=a.severity, summary=a.summary, received_at=a.received_at, effect=o.effect, dedup_key=a.dedup_key,
        note=o.note, sanitized=list(a.sanitized) or None,
    )  # fmt: skip


def _timeline(outcomes: list[Triaged], details: Mapping[str, dict[str, Any]] | None) -> list[TimelineEntry]:
    # Repeats are counted and listed under the incident's alerts, not on its timeline.
    return [
        TimelineEntry(o.incident.id, o.alert.received_at, kind, f"{o.alert.source}:{o.alert.integration}",
                      detail | {"alert_id": o.alert.alert_id} | (details or {}).get(o.alert.alert_id, {}))
        for _, o in outcomes if o.incident is not None
        for kind, detail in o.timeline
    ]  # fmt: skip


def _held(outcomes: list[Triaged]) -> tuple[list[HeldAlert], list[tuple[str, str]]]:
    """Each key's last word decides: held until its window ends, or no longer held."""
    last = {(m.tenant, o.alert.dedup_key): (m, o) for m, o in outcomes}
    held = [
        HeldAlert(t, k, o.alert.alert_id, o.held.key, o.held.ends_at, o.alert.received_at, m.envelope.encode())
        for (t, k), (m, o) in last.items() if o.held is not None
    ]  # fmt: skip
    return held, [key for key, (_, o) in last.items() if o.held is None]


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
    hits = [ProviderHit(i.source, i.dedup_key or "", i.title, i.opened_at) for i in children]
    parents = await store.link_provider_incidents(conn, hits=hits)
    for i in children:
        i.parent_id = parents[(i.source, i.dedup_key or "")]


async def triage_own(tx: Tx, raised: list[Raised], config: TierlineConfig) -> dict[str, str | None]:
    """Alerts triage raises itself (a heartbeat fell silent, a control failed, and their resolves), triaged as if
    they had arrived, so incidents, clocks, escalation and reports treat them like any other; their incident
    events are emitted. Returns each alert's incident id. They never travel the bus (triage would take them in
    again): the envelope only carries them, and a held one, through this path."""
    messages = [
        Message(raise_event("alert.received", a, source="triage", tenant=t, subject=a.alert_id, cause=cause,
                            event_id=a.alert_id), a)
        for t, a, cause in raised
    ]  # fmt: skip
    outcomes = await triage_alerts(tx.conn, messages, config)
    tx.emit_all(outcome_event(o, m.envelope) for m, o in outcomes)
    return {o.alert.alert_id: o.incident.id if o.incident else None for _, o in outcomes}
