"""Triage's only SQL: the batch write path (writes.py), change windows and held alerts (windows.py), and the
API's reads (reads.py)."""

from services.triage.store.reads import (
    get_incident,
    incident_details,
    list_incidents,
    provider_incident,
    suppressed_alerts,
)
from services.triage.store.windows import claim_held, mark_released, window_ended, window_started
from services.triage.store.writes import (
    allocate_numbers,
    close_resolved,
    link_provider_incidents,
    lock_batch,
    mark_sla,
    record_batch,
    settle_provider_incidents,
)

__all__ = [
    "allocate_numbers",
    "claim_held",
    "close_resolved",
    "get_incident",
    "incident_details",
    "link_provider_incidents",
    "list_incidents",
    "lock_batch",
    "mark_released",
    "mark_sla",
    "provider_incident",
    "record_batch",
    "settle_provider_incidents",
    "suppressed_alerts",
    "window_ended",
    "window_started",
]
