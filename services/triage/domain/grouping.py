"""Grouping alerts into incidents, pure: dedup, reopen window, correlation by CI, flapping, partial resolve,
suppression. One `Grouping` holds a batch's view (its alert keys, their incidents, the open incidents by CI,
the windows in progress) and applies the batch's alerts to it in order; the handler loads and saves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from libs.config import Tenant
from libs.contracts import AlertReceived
from services.triage.domain.incident import Incident, assess, new_incident
from services.triage.domain.rules import Window, classify, route, suppressing

Effect = Literal[
    "opened", "alert_added", "correlated", "reopened", "acknowledged", "resolved", "alert_resolved",
    "resolve_ignored", "ack_ignored", "suppressed",
]  # fmt: skip
SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}
AUTO_RESOLVED = "auto_resolved"  # the resolution code of an incident its tool resolved (people cannot choose it)


@dataclass
class AlertKey:
    """One dedup key's state: the incident it belongs to, firing or resolved, its recent state changes."""

    tenant: str
    dedup_key: str
    incident_id: str
    status: str
    changes: list[datetime] = field(default_factory=list)
    flapping: bool = False


@dataclass
class Outcome:
    """What one alert did, captured when it did it (a later alert in the batch may change the incident)."""

    effect: Effect
    incident: Incident | None
    alert: AlertReceived
    occurrences: int = 0
    note: str | None = None  # kept on the alert's row, e.g. "expected during change CHG-7"
    held: Window | None = None  # suppressed with no incident to attach to: held until this window ends
    timeline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def open_incident(tenant: Tenant, alert: AlertReceived) -> Incident:
    impact, urgency, prio, ci_category = assess(tenant, alert.ci, alert.severity, alert.received_at)
    category = classify(tenant, ci_category, alert.source, alert.labels)
    r = route(tenant, category, prio, alert.ci, alert.labels)
    return new_incident(
        tenant.id, title=alert.summary, at=alert.received_at, impact=impact, urgency=urgency, priority=prio,
        source=alert.source, severity=alert.severity, category=category, ci=alert.ci, tier=r.tier, queue=r.queue,
        routing_rule=r.rule, dedup_key=alert.dedup_key, detected_at=alert.started_at, description=alert.description,
        open_alerts=1, **_kind(alert),
    )  # fmt: skip


def _kind(alert: AlertReceived) -> dict[str, str]:
    """A service request by e-mail opens a request taken by e-mail; every other alert an incident from an alert."""
    return {"type": "request", "channel": "email"} if alert.kind == "request" else {}


def repeat(incident: Incident, alert: AlertReceived) -> None:
    """Count a repeat: last seen, latest severity and which way severity is going."""
    old, new = SEVERITY_RANK[incident.severity], SEVERITY_RANK[alert.severity]
    if new != old:
        incident.severity_trend = "rising" if new > old else "falling"
    incident.severity = alert.severity
    incident.occurrences += 1
    incident.last_seen = alert.received_at
    incident.dirty = True


class Grouping:
    def __init__(
        self,
        keys: dict[tuple[str, str], AlertKey],
        incidents: dict[str, Incident],
        by_ci: dict[tuple[str, str], Incident],
        windows: dict[str, list[Window]],
    ) -> None:
        self.keys, self.incidents, self.by_ci, self.windows = keys, incidents, by_ci, windows
        self.touched_keys: dict[tuple[str, str], AlertKey] = {}
        self.touched: dict[str, Incident] = {}

    def apply(self, alert: AlertReceived, tenant: Tenant) -> Outcome:
        if alert.status == "firing":
            out = self._fire(alert, tenant)
        elif alert.status == "resolved":
            out = self._resolve(alert, tenant)
        else:
            out = self._acknowledge(alert, tenant)
        if out.incident is not None:
            self.touched[out.incident.id] = out.incident
            out.occurrences = out.incident.occurrences
        return out

    def _key(self, tenant: Tenant, alert: AlertReceived) -> tuple[AlertKey | None, Incident | None]:
        key = self.keys.get((tenant.id, alert.dedup_key))
        return key, self.incidents.get(key.incident_id) if key else None

    def _changed(self, key: AlertKey, incident: Incident | None, tenant: Tenant, at: datetime) -> list[Any]:
        """Record a state change of the key; mark it (and its incident) flapping past N changes in M minutes."""
        rule = tenant.triage.flapping
        key.changes = [t for t in key.changes if t > at - rule.within] + [at]
        was, key.flapping = key.flapping, len(key.changes) > rule.changes
        self.touched_keys[(key.tenant, key.dedup_key)] = key
        if incident is None or was == key.flapping:
            return []
        incident.flapping, incident.dirty = key.flapping, True
        detail = {"dedup_key": key.dedup_key, "changes": len(key.changes), "within_s": rule.within.total_seconds()}
        return [("flapping" if key.flapping else "flapping_ended", detail)]

    def _fire(self, alert: AlertReceived, tenant: Tenant) -> Outcome:
        at, rules = alert.received_at, tenant.triage
        key, incident = self._key(tenant, alert)
        window = suppressing(self.windows.get(tenant.id, []), alert.ci, at)
        timeline: list[Any] = []
        if key is not None and incident is not None and incident.is_open:
            if key.status != "firing":
                key.status = "firing"
                incident.open_alerts += 1
                timeline += self._changed(key, incident, tenant, at)
            repeat(incident, alert)
            if window is None:
                return Outcome("alert_added", incident, alert, timeline=timeline)
            return self._attach_suppressed(incident, alert, window, timeline)
        if window is not None:  # expected: recorded, opens nothing, pages nobody (until the window ends)
            return Outcome("suppressed", None, alert, note=window.note, held=window)
        if key is None:
            key = self.keys[(tenant.id, alert.dedup_key)] = AlertKey(tenant.id, alert.dedup_key, "", "inactive")
        if key.status != "firing":  # still firing: a person resolved or closed the incident meanwhile
            key.status = "firing"
            timeline += self._changed(key, incident, tenant, at)
        if incident is not None and incident.state == "resolved" and incident.resolved_at is not None:
            # Only within the window: later, a newer incident may hold the same dedup key (one open per key).
            if at - incident.resolved_at <= rules.reopen_window:
                return self._reopen(incident, alert, timeline)
        if rules.correlation_window and alert.ci:
            near = self.by_ci.get((tenant.id, alert.ci))
            if near is not None and near.is_open and at - near.opened_at <= rules.correlation_window:
                key.incident_id = near.id
                near.open_alerts += 1
                repeat(near, alert)
                timeline.append(("alert_correlated", {"dedup_key": alert.dedup_key, "alert_id": alert.alert_id}))
                return Outcome("correlated", near, alert, timeline=timeline)
        new = open_incident(tenant, alert)
        new.flapping = key.flapping
        key.incident_id = new.id
        self.incidents[new.id] = new
        if alert.ci:
            self.by_ci[(tenant.id, alert.ci)] = new
        return Outcome("opened", new, alert, timeline=[("opened", {"alert_id": alert.alert_id}), *timeline])

    def _attach_suppressed(self, incident: Incident, alert: AlertReceived, w: Window, tl: list[Any]) -> Outcome:
        if w.kind == "change" and w.ref not in incident.changes:
            incident.changes = [*incident.changes, w.ref]
            tl.append(("change_linked", {"change": w.ref, "title": w.title}))
        return Outcome("suppressed", incident, alert, note=w.note, timeline=tl)

    def _reopen(self, incident: Incident, alert: AlertReceived, timeline: list[Any]) -> Outcome:
        incident.state = "in_progress" if incident.acknowledged_at else "new"
        incident.reopen_count += 1
        incident.resolved_at = incident.resolution_code = incident.first_contact = None
        incident.open_alerts = 1
        repeat(incident, alert)
        timeline.append(("reopened", {"alert_id": alert.alert_id, "reason": "alert_refired"}))
        return Outcome("reopened", incident, alert, timeline=timeline)

    def _resolve(self, alert: AlertReceived, tenant: Tenant) -> Outcome:
        at, rules = alert.received_at, tenant.triage
        key, incident = self._key(tenant, alert)
        if key is None or incident is None or key.status != "firing":
            return Outcome("resolve_ignored", incident if incident and incident.is_open else None, alert)
        key.status = "resolved"
        timeline = self._changed(key, incident, tenant, at)
        incident.open_alerts = max(0, incident.open_alerts - 1)
        incident.last_seen, incident.dirty = at, True
        if not incident.is_open:  # a person resolved it first: the tool agrees, and that is all
            return Outcome("alert_resolved", incident, alert, note="after the incident was resolved", timeline=timeline)
        partial = {"dedup_key": alert.dedup_key, "open_alerts": incident.open_alerts}
        if key.flapping:
            return Outcome("alert_resolved", incident, alert, note="flapping: not resolving", timeline=timeline)
        if not rules.auto_resolve or (rules.resolve_on == "all_alerts" and incident.open_alerts > 0):
            return Outcome("alert_resolved", incident, alert, timeline=[*timeline, ("alert_resolved", partial)])
        incident.state, incident.resolved_at, incident.hold_reason = "resolved", at, None
        incident.resolution_code = AUTO_RESOLVED
        return Outcome("resolved", incident, alert, timeline=[*timeline, ("resolved", {"alert_id": alert.alert_id})])

    def _acknowledge(self, alert: AlertReceived, tenant: Tenant) -> Outcome:
        # A tool's acknowledge (PagerDuty Events v2): only a new incident moves.
        _, incident = self._key(tenant, alert)
        if incident is None or incident.state != "new":
            return Outcome("ack_ignored", incident if incident and incident.is_open else None, alert)
        incident.state, incident.acknowledged_at, incident.dirty = "acknowledged", alert.received_at, True
        return Outcome("acknowledged", incident, alert, timeline=[("acknowledged", {"alert_id": alert.alert_id})])
