"""What change consumes: incidents on changed CIs become suspected-cause links; tools' change signals become
unmanaged changes on the calendar, linked to the incidents that opened soon after them.

The table's order (libs.subscriptions): a batch's openings first, in bulk, then the tools' changes. A link
needs both sides stored; whichever is handled second finds the first (an opening finds the changes reported
before it, a change the incidents remembered before it, these of its own batch too), so the links made do
not depend on the order in which the two arrive, in one batch or in two (tests/change/test_handlers.py).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import ChangeSignalReceived, IncidentOpened
from libs.events import Envelope, utcnow
from libs.subscriptions import Message, Subscriptions
from libs.uow import Tx
from services.change import store
from services.change.domain.changes import ChangeRequest, IncidentLink, outcome_of
from services.change.domain.unmanaged import OpenedIncident, UnmanagedChange
from services.change.events import link_event, unmanaged_link_event, unmanaged_recorded_event
from services.change.store.rows import Probe

log = structlog.get_logger()


async def on_incidents_opened(tx: Tx, messages: list[Message[IncidentOpened]], config: TierlineConfig) -> None:
    """Link each new incident to every change on its CI that was being implemented, or ended within the
    tenant's incident_link_window, when it opened (a P1/P2 link turns the change's outcome to failed), and to
    every change a tool reported on the CI within that window before. Two queries for the whole batch: most
    incidents follow no change, and this runs for every incident opened."""
    causes: list[Envelope] = []
    probes: list[Probe] = []
    for m in messages:
        o, tenant = m.payload, config.tenant(m.tenant)
        if tenant is None or o.ci is None:
            continue
        incident = OpenedIncident(tenant=m.tenant, incident_id=o.incident_id, incident_number=o.number,
                                  priority=o.priority, ci=o.ci, opened_at=o.opened_at)  # fmt: skip
        causes.append(m.envelope)
        probes.append(Probe(incident=incident, window=tenant.changes.incident_link_window))
    await store.remember_incidents(tx.conn, incidents=[p.incident for p in probes])
    now = utcnow()
    for cause, probe, changes in zip(causes, probes, await store.suspects(tx.conn, probes=probes), strict=True):
        for change in changes:
            tx.emit(await link_managed(tx.conn, cause, change, probe.incident, now))
    reported = await store.unmanaged_suspects(tx.conn, probes=probes)
    for cause, probe, unmanaged in zip(causes, probes, reported, strict=True):
        for u in unmanaged:
            tx.emit(await link_unmanaged(tx.conn, cause, u, probe.incident, now))


async def on_changes_received(tx: Tx, messages: list[Message[ChangeSignalReceived]], config: TierlineConfig) -> None:
    """Record each tool-reported change on the tenant's calendar, once per signal id, and link the incidents
    that already opened on its CI within the link window after it (the tool reported it late)."""
    for m in messages:
        signal, tenant = m.payload, config.tenant(m.tenant)
        if tenant is None:
            log.warning("change.unknown_tenant", tenant=m.tenant, event_id=m.envelope.id)
            continue
        change = UnmanagedChange(
            tenant=m.tenant,
            signal_id=signal.signal_id,
            source=signal.source,
            integration=signal.integration,
            summary=signal.summary,
            ci=signal.ci,
            at=signal.timestamp or signal.received_at,
            received_at=signal.received_at,
            custom_details=signal.custom_details,
            links=signal.links,
        )
        if not await store.record_unmanaged(tx.conn, change=change):
            continue  # a replay, or the same signal under another event id
        tx.emit(unmanaged_recorded_event(change, cause=m.envelope))
        if change.ci is None:
            continue
        window, now = tenant.changes.incident_link_window, utcnow()
        seen = await store.incidents_after(tx.conn, tenant=m.tenant, ci=change.ci, at=change.at, window=window)
        for incident in seen:
            tx.emit(await link_unmanaged(tx.conn, m.envelope, change, incident, now))


async def link_managed(
    conn: asyncpg.Connection, cause: Envelope, change: ChangeRequest, incident: OpenedIncident, now: datetime
) -> Envelope | None:
    """Link an incident to a change at work on its CI when it opened; the link may turn its outcome to failed."""
    link = IncidentLink(incident_id=incident.incident_id, incident_number=incident.incident_number,
                        priority=incident.priority, ci=incident.ci, opened_at=incident.opened_at,
                        linked_at=now)  # fmt: skip
    if not await store.add_link(conn, change_id=change.id, link=link):
        return None  # a replay
    change.outcome = outcome_of(change, await store.links(conn, change_id=change.id))
    await store.save_change(conn, change=change)
    log.info("change.incident_linked", number=change.number, incident=incident.incident_number,
             priority=incident.priority)  # fmt: skip
    return link_event(change, link, at=now, cause=cause)


async def link_unmanaged(
    conn: asyncpg.Connection, cause: Envelope, change: UnmanagedChange, incident: OpenedIncident, now: datetime
) -> Envelope | None:
    """Link an incident to a change a tool reported on its CI shortly before it opened (once per pair, whichever
    of the two arrived last)."""
    if not await store.add_unmanaged_link(conn, change=change, incident=incident, linked_at=now):
        return None  # a replay
    log.info("change.unmanaged_linked", signal_id=change.signal_id, incident=incident.incident_number)
    return unmanaged_link_event(change, incident, at=now, cause=cause)


SUBSCRIPTIONS: Subscriptions[TierlineConfig] = {
    IncidentOpened: on_incidents_opened,
    ChangeSignalReceived: on_changes_received,
}


async def lock_cis(tx: Tx, envelopes: list[Envelope], config: TierlineConfig) -> None:
    """Before the table's handlers (libs.subscriptions `before`): lock every (tenant, CI) the batch names, in one
    order, for the whole transaction. An incident and a change event on one CI handled at once by two replicas
    would otherwise each miss the other's uncommitted row, and neither link them. Locking per handler instead
    would take a batch's keys in two rounds, and two replicas could each hold what the other's second round
    waits for."""
    await store.lock_cis(tx.conn, keys=list({(e.tenant, e.data["ci"]) for e in envelopes if e.data.get("ci")}))
