"""Reporting's only SQL: appending to the ledger, the live figures and the rebuild (ledger.py), and the reads a
report, an incident's explanation and the ledger API are computed from (reads.py)."""

from services.reporting.store.ledger import (
    COLUMNS,
    LEDGER_TABLES,
    REBUILD_LOCK,
    Acknowledgement,
    LiveFigures,
    MonthBreaches,
    OpenIncidents,
    RebuildRunning,
    append,
    append_new,
    apply_live,
    finish_rebuild,
    live_figures,
    start_rebuild,
)
from services.reporting.store.reads import RecordedEvent, config_history, incident_events, latest, ledger_slice

__all__ = [
    "COLUMNS",
    "LEDGER_TABLES",
    "REBUILD_LOCK",
    "Acknowledgement",
    "LiveFigures",
    "MonthBreaches",
    "OpenIncidents",
    "RebuildRunning",
    "RecordedEvent",
    "append",
    "append_new",
    "apply_live",
    "config_history",
    "finish_rebuild",
    "incident_events",
    "latest",
    "ledger_slice",
    "live_figures",
    "start_rebuild",
]
