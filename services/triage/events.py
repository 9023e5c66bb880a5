"""The incident events triage raises, built from an incident and what happened to it."""

from __future__ import annotations

from datetime import datetime

from libs.contracts import (
    Contract,
    IncidentAcknowledged,
    IncidentAlertAdded,
    IncidentOpened,
    IncidentReopened,
    IncidentResolved,
)
from libs.events import Envelope, raise_event
from services.triage.domain.grouping import Outcome
from services.triage.domain.incident import Incident

SOURCE = "triage"


def incident_event(
    kind: str, i: Incident, payload: Contract, *, cause: Envelope | None = None, correlation_id: str | None = None
) -> Envelope:
    return raise_event(
        kind, payload, source=SOURCE, tenant=i.tenant, subject=i.id, cause=cause, correlation_id=correlation_id
    )


def opened(i: Incident, alert_id: str | None) -> IncidentOpened:
    return IncidentOpened(
        incident_id=i.id, number=i.number, title=i.title, priority=i.priority, impact=i.impact, urgency=i.urgency,
        category=i.category, ci=i.ci, tier=i.tier, dedup_key=i.dedup_key, source=i.source, opened_at=i.opened_at,
        detected_at=i.detected_at, alert_id=alert_id, type=i.type, queue=i.queue, routing_rule=i.routing_rule,
        parent_id=i.parent_id,
    )  # fmt: skip


def resolved(i: Incident, by: str, at: datetime, reason: str, alert_id: str | None = None) -> IncidentResolved:
    return IncidentResolved(
        incident_id=i.id, number=i.number, by=by, at=at, reason=reason, alert_id=alert_id,
        resolution_code=i.resolution_code, first_contact=i.first_contact,
    )  # fmt: skip


def outcome_event(o: Outcome, env: Envelope) -> Envelope | None:
    """The event one alert's outcome raises; suppressed and partial resolves page nobody and raise none."""
    i, a = o.incident, o.alert
    if i is None:
        return None
    tool = f"{a.source}:{a.integration}"
    payload: Contract
    if o.effect == "opened":
        payload = opened(i, a.alert_id)
    elif o.effect in ("alert_added", "correlated"):
        payload = IncidentAlertAdded(
            incident_id=i.id, number=i.number, alert_id=a.alert_id, occurrences=o.occurrences,
            severity=a.severity, last_seen=a.received_at, dedup_key=a.dedup_key, correlated=o.effect == "correlated",
        )  # fmt: skip
    elif o.effect == "acknowledged":
        payload = IncidentAcknowledged(incident_id=i.id, number=i.number, by=tool, at=a.received_at)
    elif o.effect == "resolved":
        payload = resolved(i, tool, a.received_at, "alert_resolved", a.alert_id)
    elif o.effect == "reopened":
        payload = IncidentReopened(
            incident_id=i.id, number=i.number, by=tool, at=a.received_at, reason="alert_refired", state=i.state
        )
    else:
        return None
    kind = "incident.alert_added" if o.effect == "correlated" else f"incident.{o.effect}"
    return incident_event(kind, i, payload, cause=env)
