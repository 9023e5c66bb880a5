"""Notifications (pure): who gets one for what, what it says (webhook, Slack and e-mail bodies), the HMAC
signature, and what an attempt at sending it leaves (delivered, retried with backoff, or dead)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from libs.config import NotificationTarget, Tenant, Trigger
from libs.events import Envelope

SIGNATURE_HEADER = "Tierline-Signature"
TIMESTAMP_HEADER = "Tierline-Timestamp"
DELIVERY_HEADER = "Tierline-Delivery"  # the notification id: a receiver drops a delivery it has seen


Status = Literal["pending", "delivered", "dead", "cancelled"]


@dataclass(frozen=True)
class Incident:
    """The incident a notification is about, as its reader sees it."""

    incident_id: str
    number: str
    title: str
    priority: str
    tier: int


@dataclass(frozen=True, kw_only=True)
class NotificationRef:
    """What every notification names: itself, its tenant and incident, its target and what triggered it."""

    id: str
    tenant: str
    incident_id: str
    number: str
    target: str
    kind: str
    trigger: str


@dataclass(frozen=True, kw_only=True)
class Notification(NotificationRef):
    """One notification to queue: committed with its cause, sent later by the sender."""

    dedup_key: str  # the cause's event id: a replayed cause (same target) notifies once
    body: dict[str, Any]
    # A page to a person (domain/pages.py): which of their contact methods, for which schedule, and when it is
    # due (a later method waits its delay); None for a tenant's notification targets, due at once.
    person: str | None = None
    method: int | None = None
    schedule: str | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Delivery(NotificationRef):
    """A queued notification claimed for sending (fields as stored)."""

    body: str  # the JSON text to send, as it was queued
    attempts: int  # including the attempt being made now
    person: str | None = None  # a page: the person and which of their contact methods
    method: int | None = None
    schedule: str | None = None


@dataclass(frozen=True)
class Attempt:
    """What one try at sending did: ok, the HTTP status (if any), the error (if not ok), how long it took."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float = 0.0


def notifications_for(
    tenant: Tenant | None,
    *,
    trigger: Trigger | str,
    incident: Incident,
    cause: Envelope,
    targets: list[NotificationTarget] | None = None,
) -> list[Notification]:
    """One notification per target of the tenant that wants `trigger` (or the `targets` given, for escalation
    steps), each carrying its cause as the record of what happened."""
    if tenant is None:
        return []
    if targets is None:
        targets = targets_for(tenant, trigger, incident.priority)  # type: ignore[arg-type]
    if not targets:  # the common case: most tenants want few triggers
        return []
    event = {"type": cause.short_type, "id": cause.id, "time": cause.time.isoformat(), "data": cause.data}
    found = []
    for t in targets:
        nid = str(uuid.uuid4())
        body = body_for(t.kind, notification_id=nid, tenant=tenant.id, trigger=trigger, incident=incident, event=event)
        found.append(
            Notification(
                id=nid,
                tenant=tenant.id,
                incident_id=incident.incident_id,
                number=incident.number,
                target=t.name,
                kind=t.kind,
                trigger=trigger,
                dedup_key=cause.id,
                body=body,
            )
        )
    return found


def targets_for(tenant: Tenant, trigger: Trigger, priority: str) -> list[NotificationTarget]:
    """The tenant's targets that want this trigger (`opened` only at the configured priorities)."""
    n = tenant.notifications
    if trigger == "opened" and priority not in n.opened_priorities:
        return []
    return [t for t in n.targets if trigger in (t.triggers if t.triggers is not None else n.triggers)]


def step_targets(tenant: Tenant, names: list[str]) -> list[NotificationTarget]:
    by_name = {t.name: t for t in tenant.notifications.targets}
    return [by_name[n] for n in names if n in by_name]  # a target removed from the config is skipped


def _when(value: Any) -> str:
    """`2025-03-04 10:15 UTC`: a deadline as a person reads it on a phone (the event keeps the exact instant)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at.tzinfo else str(value)


def describe(trigger: str, incident: Incident, data: dict[str, Any]) -> str:
    """One line a person reads in Slack or a mail subject."""
    head = f"[{incident.priority}] {incident.number} {incident.title}"
    match trigger:
        case "opened":
            return f"{head}: opened at Tier {incident.tier}"
        case "escalated":
            tiers = f"Tier {data.get('from_tier')} -> {data.get('to_tier')}"
            return f"{head}: escalated {tiers} ({data.get('reason')})"
        case "sla_warning":
            pct = round(100 * data.get("fraction", 0))
            return f"{head}: {data.get('clock')} SLA at {pct}%, due {_when(data.get('due_at'))}"
        case "sla_breached":
            return f"{head}: {data.get('clock')} SLA breached (due {_when(data.get('due_at'))})"
        case "resolved":
            return f"{head}: resolved by {data.get('by')}"
        case "step":
            step = f"escalation step {data.get('step', 0) + 1}, round {data.get('round', 0) + 1}"
            if person := data.get("person"):
                return f"{head}: paging {person} ({_on_call_for(data)}{step})"
            who = data.get("group") or f"Tier {data.get('tier')}"
            return f"{head}: paging {who} ({step})"
        case "handoff":
            return (
                f"{head}: still unacknowledged at the handoff; paging {data.get('person')} ({_on_call_for(data)[:-2]})"
            )
    return f"{head}: {trigger}"


def _on_call_for(data: dict[str, Any]) -> str:
    schedule = data.get("schedule")
    if not schedule:
        return ""
    if data.get("fallback"):
        return f"nobody on call for {schedule}: its fallback; "
    return f"on call for {schedule}; "


def body_for(
    kind: str, *, notification_id: str, tenant: str, trigger: str, incident: Incident, event: dict[str, Any]
) -> dict[str, Any]:
    """The JSON a target receives: the full record for a webhook, a Slack incoming-webhook message, or the
    subject and text of an e-mail."""
    text = describe(trigger, incident, event.get("data", {}))
    if kind == "slack":
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}]}
    if kind == "email":
        lines = [text, "", f"Tenant: {tenant}", f"Incident: {incident.number} ({incident.incident_id})"]
        # What the event says, less what the lines above say already and what is empty.
        shown = {"incident_id", "number", "notify", "fallback"}
        data = sorted(event.get("data", {}).items())
        lines += [f"{k}: {v}" for k, v in data if k not in shown and v not in (None, [])]
        return {"subject": text, "text": "\n".join(lines)}
    return {
        "id": notification_id,
        "trigger": trigger,
        "tenant": tenant,
        "incident": {
            "id": incident.incident_id,
            "number": incident.number,
            "title": incident.title,
            "priority": incident.priority,
            "tier": incident.tier,
        },
        "event": event,
        "text": text,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `<timestamp>.<body>` keyed with the target's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def retry_delay(attempt: int, *, base_s: float, cap_s: float = 600.0) -> float:
    """Exponential backoff after failed attempt number `attempt` (1-based): base, 2 base, 4 base ... capped."""
    return float(min(cap_s, base_s * 2 ** (attempt - 1)))


def after_attempt(
    ok: bool, attempt: int, *, at: datetime, max_attempts: int, backoff_s: float
) -> tuple[Status, datetime]:
    """The notification's status after attempt number `attempt`, and when it is next due: delivered, retried
    after a backoff, or dead after the last attempt (its row stays as the dead-letter record)."""
    if ok:
        return "delivered", at
    if attempt >= max_attempts:
        return "dead", at
    return "pending", at + timedelta(seconds=retry_delay(attempt, base_s=backoff_s))
