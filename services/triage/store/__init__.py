"""Triage's only SQL: the batch write path (writes.py), change windows and held alerts (windows.py), its copy
of the SLA clocks (sla.py), heartbeats and control checks (heartbeats.py), the API's reads (reads.py), and the
typed rows they take and give (rows.py)."""

from services.triage.store.heartbeats import (
    HeartbeatRead,
    claim_late_heartbeats,
    heartbeat_rows,
    lock_control_checks,
    lock_heartbeats,
    save_control_checks,
    save_heartbeats,
)
from services.triage.store.reads import (
    SORTS,
    get_incident,
    incident_details,
    list_incidents,
    provider_incident,
    sort_key,
    suppressed_alerts,
    valid_key,
)
from services.triage.store.rows import AlertRow, BatchView, HeldAlert, ProviderHit, Released, TimelineEntry
from services.triage.store.sla import SlaRow, lock_sla, save_sla
from services.triage.store.windows import claim_held, mark_released, window_ended, window_started
from services.triage.store.writes import (
    allocate_numbers,
    close_resolved,
    link_provider_incidents,
    lock_batch,
    record_batch,
    settle_provider_incidents,
)

__all__ = [
    "SORTS",
    "AlertRow",
    "BatchView",
    "HeartbeatRead",
    "HeldAlert",
    "ProviderHit",
    "Released",
    "SlaRow",
    "TimelineEntry",
    "allocate_numbers",
    "claim_held",
    "claim_late_heartbeats",
    "close_resolved",
    "get_incident",
    "heartbeat_rows",
    "incident_details",
    "link_provider_incidents",
    "list_incidents",
    "lock_batch",
    "lock_control_checks",
    "lock_heartbeats",
    "lock_sla",
    "mark_released",
    "provider_incident",
    "record_batch",
    "save_control_checks",
    "save_heartbeats",
    "save_sla",
    "settle_provider_incidents",
    "sort_key",
    "suppressed_alerts",
    "valid_key",
    "window_ended",
    "window_started",
]
