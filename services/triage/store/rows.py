"""The typed rows triage's SQL takes and gives back (besides the Incident itself): by name, never by position."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.triage.domain.grouping import AlertKey
from services.triage.domain.incident import Incident
from services.triage.domain.rules import Window


@dataclass(frozen=True)
class AlertRow:
    """One alert and what it did (incident_alerts)."""

    alert_id: str
    incident_id: str | None
    tenant: str
    status: str
    severity: str
    summary: str
    received_at: datetime
    effect: str
    dedup_key: str
    note: str | None = None
    sanitized: list[str] | None = None  # the fields intake scrubbed of control characters


@dataclass(frozen=True)
class TimelineEntry:
    incident_id: str
    at: datetime
    kind: str
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HeldAlert:
    """A suppressed alert still firing, held until its window ends (held_alerts)."""

    tenant: str
    dedup_key: str
    alert_id: str
    held_by: str  # change:ACME-CHG-7 | maintenance:<name>
    held_until: datetime
    received_at: datetime
    envelope: bytes  # the alert.received event as it arrived


@dataclass(frozen=True)
class Released:
    """A held alert triaged again: what its row now says it did."""

    alert_id: str
    incident_id: str | None
    effect: str
    note: str


@dataclass(frozen=True)
class ProviderHit:
    """A new incident from a provider-wide source: the upstream fault it is a child of."""

    source: str
    dedup_key: str
    title: str
    opened_at: datetime


@dataclass
class BatchView:
    """Everything a batch of alerts decides on (store.lock_batch), row-locked."""

    keys: dict[tuple[str, str], AlertKey]
    incidents: dict[str, Incident]
    by_ci: dict[tuple[str, str], Incident]  # the latest open incident per (tenant, CI)
    windows: dict[str, list[Window]]  # the change windows not yet ended, per tenant
