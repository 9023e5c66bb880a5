"""Reporting's one handler: every consumed event, whatever its type, is appended to the ledger once (and the
live figures behind /metrics move with the incident events recorded for the first time).

Reporting raises no events, so it needs neither libs.outbox.handle_messages nor the `processed` inbox:
the ledger's primary key (the event id) is the inbox, and one INSERT ... ON CONFLICT DO NOTHING per
fetched batch makes a redelivered or republished event harmless.
"""

from __future__ import annotations

import json
from datetime import UTC

import asyncpg
import structlog

from libs.contracts import REGISTRY
from libs.events import Envelope
from services.reporting import store
from services.reporting.live import observe_acks
from services.reporting.store import LedgerRow

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


def ledger_row(env: Envelope) -> LedgerRow:
    """The ledger row of one event; raises if a registered event breaks its contract.

    Raising sends the event through the consumer's retry-alone path to the dead-letter stream (with the
    validation error), so the report queries can cast every payload field they read. The payload is stored
    as it came: it is JSON already, with times in ISO 8601 as every publisher writes them.
    """
    contract = REGISTRY.get(env.short_type)
    if contract is not None:
        contract.model_validate(env.data)  # raises on a broken payload; the payload came as JSON already
    at = env.time if env.time.tzinfo else env.time.replace(tzinfo=UTC)
    # A replayed dead letter is recorded under the original's id: once, whether or not reporting saw the original.
    return (env.inbox_id, env.tenant, env.short_type, env.subject, at, env.correlationid, json.dumps(env.data))


async def record(pool: asyncpg.Pool, envs: list[Envelope]) -> None:
    """Append a fetched batch to the ledger in one statement (so one transaction)."""
    # A batch may hold a redelivered copy of its own message; key order (time, id) is the same in every
    # batch, so replicas inserting overlapping batches wait on each other instead of deadlocking.
    rows = sorted({e.inbox_id: ledger_row(e) for e in envs}.values(), key=lambda r: (r[4], r[0]))
    by_id = {e.inbox_id: e for e in envs}
    async with pool.acquire() as conn, conn.transaction():
        new = await store.append_new(conn, rows=rows)
        # Only rows recorded now move the live figures: a redelivered event has moved them already.
        live = [(by_id[r[0]].tenant, r[2], by_id[r[0]].data) for r in rows if r[0] in new and r[2] in LIVE_TYPES]
        acks = await store.apply_live(conn, events=live)
    observe_acks(acks)
    if len(new) < len(rows):
        log.info("reporting.duplicates_dropped", batch=len(rows), added=len(new))
