"""Reporting's one handler, a sink (libs.subscriptions): every consumed event, whatever its type, is appended
to the ledger once, and the live figures behind /metrics move with the incident events recorded for the first
time. There is no subscriber table: the ledger takes every subject under the prefix, alerts included, and a
type added later is recorded without touching reporting.

Reporting raises no events and keeps no `processed` inbox: the ledger's primary key (the event id) is the
inbox, and one INSERT ... ON CONFLICT DO NOTHING per fetched batch makes a redelivered or republished event
harmless.
"""

from __future__ import annotations

from typing import Any

import structlog

from libs.events import Envelope
from libs.uow import Tx
from services.reporting import store
from services.reporting.domain.ledger import ledger_entry
from services.reporting.events import observe_acknowledgements

log = structlog.get_logger()
LIVE_TYPES = {
    "incident.opened",
    "incident.acknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.closed",
    "incident.escalated",
    "incident.priority_changed",
}


async def record(tx: Tx, envelopes: list[Envelope], deps: Any = None) -> None:
    """Append a fetched batch to the ledger in one statement, and the live figures with what is new in it."""
    # A batch may hold a redelivered copy of its own message; key order (time, id) is the same in every
    # batch, so replicas inserting overlapping batches wait on each other instead of deadlocking.
    unique = {e.inbox_id: ledger_entry(e) for e in envelopes}
    entries = sorted(unique.values(), key=lambda r: (r.occurred_at, r.event_id))
    new = await store.append_new(tx.conn, entries=entries)
    # Only entries recorded now move the live figures: a redelivered event has moved them already.
    acks = await store.apply_live(tx.conn, entries=[e for e in entries if e.event_id in new and e.type in LIVE_TYPES])
    # Observed once committed: a batch that fails and is redelivered must not count its acknowledgements twice.
    tx.after_commit(lambda: observe_acknowledgements(acks))
    if len(new) < len(entries):
        log.info("reporting.duplicates_dropped", batch=len(entries), added=len(new))
