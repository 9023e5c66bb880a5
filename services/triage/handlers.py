"""Triage's subscriber table: alerts become incidents; change windows suppress; heartbeats re-arm and control
results open or close findings (through the same path as alerts); escalation moves tiers and reports its SLA
clocks; change links suspected causes; a paged person's acknowledge or resolve link acts as them, and pages to
people go on the timeline. The one dispatch order (libs/subscriptions.py) puts change windows first,
so alerts in the same batch see them, and heartbeats and controls before alerts, so a batch locks a heartbeat's
row before alert keys, as the late-heartbeat worker does."""

from __future__ import annotations

from datetime import datetime

import structlog

from libs.config import Heartbeat, TierlineConfig
from libs.contracts import (
    AlertReceived,
    ChangeIncidentCleared,
    ChangeIncidentLinked,
    ChangeWindowEnded,
    ChangeWindowStarted,
    ControlResultRecorded,
    EscalationRequested,
    HeartbeatReceived,
    IncidentEscalated,
    NotificationDeadLettered,
    NotificationDelivered,
    PageAcknowledged,
    PageResolved,
    UnmanagedChangeLinked,
)
from libs.events import utcnow
from libs.subscriptions import Message, Subscriptions
from libs.uow import Tx
from services.triage import store
from services.triage.alerts import Raised, number_new_incidents, triage_alerts, triage_own
from services.triage.domain import controls, heartbeats, sla
from services.triage.domain.actions import Done, answer_page, unassign_below_tier
from services.triage.domain.fallback import AlertDeadLettered, fallback_incident
from services.triage.domain.sla import SlaNews
from services.triage.events import incident_event, opened, outcome_event
from services.triage.store import TimelineEntry

log = structlog.get_logger()
ACTOR = "escalation"  # who escalation's requests and SLA news are from, on the timeline


async def on_change_windows(
    tx: Tx, messages: list[Message[ChangeWindowStarted | ChangeWindowEnded]], config: TierlineConfig
) -> None:
    """Keep triage's own copy of the change windows in progress (suppression reads it)."""
    for m in messages:
        if isinstance(m.payload, ChangeWindowStarted):
            await store.window_started(tx.conn, tenant=m.tenant, w=m.payload)
        else:
            await store.window_ended(tx.conn, tenant=m.tenant, change_id=m.payload.change_id, at=m.payload.at)


async def on_heartbeats_received(tx: Tx, messages: list[Message[HeartbeatReceived]], config: TierlineConfig) -> None:
    """A beat re-arms its heartbeat; the one that ends a late spell resolves its alert (domain/heartbeats.py).
    A beat of a heartbeat no longer configured is dropped: there is nothing left to watch."""
    known = [(m, spec) for m in messages if (spec := _spec(config, m.tenant, m.payload.heartbeat)) is not None]
    if not known:
        return
    rows = await store.lock_heartbeats(tx.conn, keys=[(m.tenant, m.payload.heartbeat) for m, _ in known])
    raised: list[Raised] = []
    for m, spec in known:
        if (alert := heartbeats.record_beat(rows[(m.tenant, m.payload.heartbeat)], m.payload, spec)) is not None:
            raised.append((m.tenant, alert, m.envelope))
    await triage_own(tx, raised, config)
    await store.save_heartbeats(tx.conn, states=list(rows.values()))


def _spec(config: TierlineConfig, tenant: str, name: str) -> Heartbeat | None:
    t = config.tenant(tenant)
    return t.heartbeat_index.get(name) if t else None


async def on_control_results(tx: Tx, messages: list[Message[ControlResultRecorded]], config: TierlineConfig) -> None:
    """A failing result of an `incident_on_fail` control opens a finding; the next pass closes it
    (domain/controls.py). A result for a control, or a CI, no longer in the config is dropped."""
    known = []
    for m in messages:
        tenant = config.tenant(m.tenant)
        spec = tenant.control_index.get(m.payload.control_id) if tenant else None
        if spec is not None and m.payload.ci in spec.cis:
            known.append((m, spec))
    if not known:
        return
    rows = await store.lock_control_checks(
        tx.conn, keys=[(m.tenant, m.payload.control_id, m.payload.ci) for m, _ in known]
    )
    raised: list[Raised] = []
    owners = {}
    for m, spec in known:
        check = rows[(m.tenant, m.payload.control_id, m.payload.ci)]
        if (alert := controls.record_result(check, m.payload, spec)) is not None:
            raised.append((m.tenant, alert, m.envelope))
            owners[alert.alert_id] = check
    for alert_id, incident_id in (await triage_own(tx, raised, config)).items():
        if incident_id and owners[alert_id].failing_since is not None:
            owners[alert_id].incident_id = incident_id
    await store.save_control_checks(tx.conn, checks=list(rows.values()))


async def on_alerts_received(tx: Tx, messages: list[Message[AlertReceived]], config: TierlineConfig) -> None:
    known = []
    for m in messages:
        if config.tenant(m.tenant) is None:  # tenant removed from config after the alert was accepted
            log.warning("triage.unknown_tenant", tenant=m.tenant, event_id=m.envelope.id)
            continue
        known.append(m)
    tx.emit_all(outcome_event(o, m.envelope) for m, o in await triage_alerts(tx.conn, known, config))


async def on_sla_events(tx: Tx, messages: list[Message[SlaNews]], config: TierlineConfig) -> None:
    """Escalation's clock news for a whole batch (a clock starts with every new incident, so this is on the
    path of each): one read and one write, whatever the kinds, applied in stream order per incident."""
    found = await store.lock_sla(tx.conn, incident_ids=[m.payload.incident_id for m in messages])
    for m in messages:
        row = found.get(m.payload.incident_id)
        if row is None or row.tenant != m.tenant:
            continue
        entry = sla.apply(row.sla, m.envelope.short_type, m.envelope.data)  # by field: see domain/sla.py
        row.at_risk |= m.envelope.short_type == "sla.warning"
        row.breached |= m.envelope.short_type == "sla.breached"
        if entry is not None:
            kind, at, detail = entry
            row.timeline.append((datetime.fromisoformat(at) if at else m.envelope.time, kind, detail))
    due = {r.id: datetime.fromisoformat(d) if (d := sla.deadline(r.sla)) else None for r in found.values()}
    await store.save_sla(tx.conn, rows=list(found.values()), due=due)


async def on_escalation_requested(tx: Tx, messages: list[Message[EscalationRequested]], config: TierlineConfig) -> None:
    for m in messages:
        req = m.payload
        incident = await store.get_incident(tx.conn, ref=req.incident_id, lock=True)
        # Apply only if the incident is still open at the tier the request saw: a stale request changes nothing.
        if incident is None or not incident.is_open or incident.tier != req.from_tier:
            continue
        incident.tier, incident.queue = req.to_tier, f"tier-{req.to_tier}"
        detail = {"from_tier": req.from_tier, "to_tier": req.to_tier, "reason": req.reason}
        payload = IncidentEscalated(
            incident_id=incident.id, number=incident.number, from_tier=req.from_tier, to_tier=req.to_tier,
            reason=req.reason, at=req.at,
        )  # fmt: skip
        done = Done().add("escalated", detail, "incident.escalated", payload)
        tier = config.tiers.get(incident.assignee) if incident.assignee else None
        done = unassign_below_tier(incident, done, ACTOR, req.at, tier)
        steps = [TimelineEntry(incident.id, req.at, kind, ACTOR, d) for kind, d in done.steps]
        await store.record_batch(tx.conn, incidents=[incident], timeline=steps)
        tx.emit(*[incident_event(kind, incident, p, cause=m.envelope) for kind, p in done.events])


async def on_change_incident_links(
    tx: Tx, messages: list[Message[ChangeIncidentLinked | ChangeIncidentCleared]], config: TierlineConfig
) -> None:
    """Show on the incident the change the change service suspects caused it (and a reviewer clearing it), so
    whoever works the incident sees what changed on its CI."""
    for m in messages:
        link = m.payload
        incident = await store.get_incident(tx.conn, ref=link.incident_id, lock=True)
        if incident is None or incident.tenant != m.tenant:
            continue
        if isinstance(link, ChangeIncidentCleared):
            detail = {"change": link.number, "reason": link.reason}
            step = TimelineEntry(incident.id, link.at, "change_cleared", link.by or "change", detail)
        else:
            if link.number not in incident.changes:
                incident.changes = [*incident.changes, link.number]
            detail = {"change": link.number, "change_type": link.change_type, "counts_as_failed": link.counts_as_failed}
            step = TimelineEntry(incident.id, link.at, "change_suspected", "change", detail)
        await store.record_batch(tx.conn, incidents=[incident], timeline=[step])


async def on_unmanaged_change_links(
    tx: Tx, messages: list[Message[UnmanagedChangeLinked]], config: TierlineConfig
) -> None:
    """A tool reported a change on the incident's CI just before it opened: put it on the incident's timeline."""
    for m in messages:
        link = m.payload
        incident = await store.get_incident(tx.conn, ref=link.incident_id, lock=True)
        if incident is None or incident.tenant != m.tenant:
            continue
        detail = {"source": link.source, "summary": link.summary, "changed_at": link.changed_at.isoformat(),
                  "signal_id": link.signal_id}  # fmt: skip
        step = TimelineEntry(incident.id, link.at, "unmanaged_change_suspected", "change", detail)
        await store.record_batch(tx.conn, incidents=[incident], timeline=[step])


async def on_pages_answered(
    tx: Tx, messages: list[Message[PageAcknowledged | PageResolved]], config: TierlineConfig
) -> None:
    """Someone paged used an acknowledge or resolve link: applied as them, committed with its incident events
    (escalation stops its policy on the `incident.acknowledged` that follows, as for any acknowledgement)."""
    for m in messages:
        p = m.payload
        incident = await store.get_incident(tx.conn, ref=p.incident_id, lock=True)
        if incident is None or incident.tenant != m.tenant:
            continue
        via = {"via": "page link", "person": p.person, "method": p.method, "notification_id": p.notification_id}
        action = "resolve" if isinstance(p, PageResolved) else "acknowledge"
        done = answer_page(incident, action, p.by, p.at, via)
        steps = [TimelineEntry(incident.id, p.at, kind, p.by, detail) for kind, detail in done.steps]
        await store.record_batch(tx.conn, incidents=[incident], timeline=steps)
        if incident.parent_id and done.events:  # resolving a child may settle its provider incident
            await store.settle_provider_incidents(tx.conn, parents=[incident.parent_id], at=p.at)
        tx.emit(*[incident_event(kind, incident, payload, cause=m.envelope) for kind, payload in done.events])


async def on_pages_sent(
    tx: Tx, messages: list[Message[NotificationDelivered | NotificationDeadLettered]], config: TierlineConfig
) -> None:
    """The incident shows who was paged, when and by which contact method (escalation's pages to people; its
    notifications to a tenant's targets are in its own list, not on the timeline)."""
    steps = []
    for m in messages:
        p = m.payload
        if p.person is None or (incident := await store.get_incident(tx.conn, ref=p.incident_id)) is None:
            continue
        if incident.tenant == m.tenant:
            kind = "paged" if isinstance(p, NotificationDelivered) else "page_failed"
            detail = {"person": p.person, "method": p.kind, "schedule": p.schedule, "trigger": p.trigger,
                      "notification_id": p.notification_id, "attempts": p.attempts, "error": p.last_error}  # fmt: skip
            steps.append(TimelineEntry(incident.id, p.at, kind, ACTOR, detail))
    await store.record_batch(tx.conn, incidents=[], timeline=steps)


async def on_alerts_dead_lettered(tx: Tx, messages: list[Message[AlertDeadLettered]], config: TierlineConfig) -> None:
    """A dead-lettered alert still reaches a human (domain/fallback.py): one incident per alert, however many
    consumers gave up on it (the letter's inbox id is the original event's)."""
    for m in messages:
        tenant = config.tenant(m.tenant)
        if tenant is None:  # nowhere to open it: the operator's log alerting is the last resort
            log.critical("deadletter.unknown_tenant", tenant=m.tenant, event_id=m.payload.event_id)
            continue
        incident = fallback_incident(tenant.id, m.payload, at=utcnow())
        await number_new_incidents(tx.conn, [incident], config)
        detail = {"reason": "dead_lettered", "event_id": m.payload.event_id, "consumer": m.payload.consumer}
        step = TimelineEntry(incident.id, incident.opened_at, "opened", "deadletter", detail)
        await store.record_batch(tx.conn, incidents=[incident], timeline=[step])
        tx.emit(incident_event("incident.opened", incident, opened(incident, None), cause=m.envelope))
        log.error("deadletter.incident_opened", number=incident.number, event_id=m.payload.event_id)


SUBSCRIPTIONS: Subscriptions[TierlineConfig] = {
    (ChangeWindowStarted, ChangeWindowEnded): on_change_windows,
    HeartbeatReceived: on_heartbeats_received,
    ControlResultRecorded: on_control_results,
    AlertReceived: on_alerts_received,
    SlaNews: on_sla_events,
    EscalationRequested: on_escalation_requested,
    (ChangeIncidentLinked, ChangeIncidentCleared): on_change_incident_links,
    UnmanagedChangeLinked: on_unmanaged_change_links,
    (PageAcknowledged, PageResolved): on_pages_answered,
    (NotificationDelivered, NotificationDeadLettered): on_pages_sent,
}  # fmt: skip
# The dead-letter stream's alerts (a consumer of its own: services/triage/service.py).
DEAD_LETTERS: Subscriptions[TierlineConfig] = {AlertDeadLettered: on_alerts_dead_lettered}
