"""Triage's pure rules: the ITIL priority matrix, grouping alerts into incidents, the incident lifecycle."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from libs.config import Tenant
from libs.contracts import AlertReceived
from libs.lifecycle import Lifecycle

Level = Literal["high", "medium", "low"]

# ITIL impact x urgency -> priority; rows are impact, columns urgency (high, medium, low).
PRIORITY_MATRIX: dict[Level, dict[Level, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P5"},
}
IMPACT_BY_CRITICALITY: dict[str, Level] = {
    "critical": "high",
    "high": "high",
    "medium": "medium",
    "low": "low",
}
URGENCY_BY_SEVERITY: dict[str, Level] = {
    "critical": "high",
    "error": "medium",
    "warning": "low",
    "info": "low",
}

OPEN_STATES = ("new", "acknowledged")
# The foundation's lifecycle; on-hold, in-progress, close and reopen arrive with the triage issue.
LIFECYCLE = Lifecycle(
    "an incident",
    {
        "new": {"acknowledge": "acknowledged", "resolve": "resolved"},
        "acknowledged": {"resolve": "resolved"},
        "resolved": {},
    },
)
transition = LIFECYCLE.next


def priority(impact: Level, urgency: Level) -> str:
    return PRIORITY_MATRIX[impact][urgency]


def assess(tenant: Tenant, ci: str | None, severity: str) -> tuple[Level, Level, str, str | None]:
    """(impact, urgency, priority, category): impact from the CI's criticality, urgency from severity.

    An alert for a CI the tenant has not declared still opens an incident, at medium impact.
    """
    item = tenant.ci_index.get(ci) if ci else None
    impact = IMPACT_BY_CRITICALITY[item.criticality] if item else "medium"
    urgency = URGENCY_BY_SEVERITY.get(severity, "medium")
    return impact, urgency, priority(impact, urgency), item.category if item else None


@dataclass
class Incident:
    id: str
    tenant: str
    title: str
    state: str
    priority: str
    impact: str
    urgency: str
    category: str | None
    ci: str | None
    tier: int
    dedup_key: str | None
    source: str
    severity: str
    occurrences: int
    opened_at: datetime
    last_seen: datetime
    number: str = ""  # assigned when the batch commits (per-tenant counter)
    detected_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    is_new: bool = False
    dirty: bool = field(default=False, compare=False)


Effect = Literal["opened", "alert_added", "acknowledged", "resolved", "resolve_ignored", "ack_ignored"]


def apply_alert(open_incident: Incident | None, alert: AlertReceived, tenant: Tenant) -> tuple[Effect, Incident | None]:
    """What one alert does: open an incident, add to the open one with its dedup key, acknowledge or resolve it.

    A resolve for a key with no open incident changes nothing (the incident was resolved by hand, or never
    opened); it is still recorded against the alert by the caller.
    """
    at = alert.received_at
    if alert.status == "acknowledged":  # a tool's acknowledge (PagerDuty Events v2): only a new incident moves
        if open_incident is None or open_incident.state != "new":
            return "ack_ignored", open_incident
        open_incident.state = "acknowledged"
        open_incident.acknowledged_at = at
        open_incident.dirty = True
        return "acknowledged", open_incident
    if alert.status == "resolved":
        if open_incident is None:
            return "resolve_ignored", None
        open_incident.state = "resolved"
        open_incident.resolved_at = at
        open_incident.last_seen = at
        open_incident.dirty = True
        return "resolved", open_incident
    if open_incident is not None:
        open_incident.occurrences += 1
        open_incident.last_seen = at
        open_incident.severity = alert.severity
        open_incident.dirty = True
        return "alert_added", open_incident
    impact, urgency, prio, category = assess(tenant, alert.ci, alert.severity)
    incident = Incident(
        id=str(uuid.uuid4()),
        tenant=tenant.id,
        title=alert.summary,
        state="new",
        priority=prio,
        impact=impact,
        urgency=urgency,
        category=category,
        ci=alert.ci,
        tier=1,
        dedup_key=alert.dedup_key,
        source=alert.source,
        severity=alert.severity,
        occurrences=1,
        opened_at=at,
        last_seen=at,
        detected_at=alert.started_at,
        is_new=True,
        dirty=True,
    )
    return "opened", incident
