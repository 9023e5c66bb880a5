"""Changes tools report (PagerDuty change events through intake), and the incidents change remembers to link
them to. No workflow stands behind an unmanaged change: it goes on the calendar, and an incident soon after it
on its CI is linked to it, whichever of the two arrived last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UnmanagedChange:
    tenant: str
    signal_id: str  # the tool's id for it: recorded once per tenant and signal
    source: str
    integration: str
    summary: str
    ci: str | None
    at: datetime  # when the tool says it happened (when intake received it, if the tool did not say)
    received_at: datetime
    custom_details: dict[str, Any]
    links: list[dict[str, Any]]


@dataclass(frozen=True)
class OpenedIncident:
    """An incident triage opened on a CI, as change keeps it (incidents_seen) for a change reported late."""

    tenant: str
    incident_id: str
    incident_number: str
    priority: str
    ci: str
    opened_at: datetime
