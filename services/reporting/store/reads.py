"""Reporting's SQL for reading the events a report is computed from, one incident's events, the latest rows.

Event times are read from the payloads (data.opened_at, data.at, data.breached_at, data.finished_at,
data.checked_at), which the handler has checked against their contracts, so every cast below is safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.reporting.domain.report import LedgerSlice
from services.reporting.domain.stories import STORY_TYPES, Event


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A ledger row as the ledger API shows it."""

    event_id: str
    seq: int
    type: str
    subject: str | None
    occurred_at: datetime
    correlation_id: str | None
    data: dict[str, Any]
    recorded_at: datetime


# The incidents a period's report needs: opened in it, breached in it, or (for availability) of a downtime
# priority, opened before its end and not resolved before its start; of their events, the kinds a story reads.
# The last resolution of every incident is one grouped scan (it was a subquery per incident opened), and the
# rows are read in recording order along (tenant, seq) with the ids hashed (it was one index probe per incident,
# then a sort of every payload, on disk).
_INCIDENT_EVENTS = """
WITH resolved AS (
    SELECT data->>'incident_id' AS id, max((data->>'at')::timestamptz) AS at FROM ledger
    WHERE tenant = $1 AND type = 'incident.resolved' GROUP BY 1
), ids AS (
    SELECT data->>'incident_id' AS id FROM ledger
    WHERE tenant = $1 AND type = 'incident.opened'
        AND (data->>'opened_at')::timestamptz >= $2 AND (data->>'opened_at')::timestamptz < $3
    UNION
    SELECT data->>'incident_id' FROM ledger
    WHERE tenant = $1 AND type = 'sla.breached'
        AND (data->>'breached_at')::timestamptz >= $2 AND (data->>'breached_at')::timestamptz < $3
    UNION
    SELECT o.data->>'incident_id' FROM ledger o LEFT JOIN resolved r ON r.id = o.data->>'incident_id'
    WHERE o.tenant = $1 AND o.type = 'incident.opened' AND o.data->>'priority' = ANY($4::text[])
        AND (o.data->>'opened_at')::timestamptz < $3 AND coalesce(r.at, 'infinity') >= $2
)
SELECT seq, event_id, type, data::text AS data, occurred_at FROM ledger
WHERE tenant = $1 AND type = ANY($5::text[]) AND data->>'incident_id' IN (SELECT id FROM ids)
"""
# Every change event of the tenant (a change's story may start months before the period it is implemented in);
# a range on type, so the (tenant, type, occurred_at) index serves it.
_CHANGE_EVENTS = """
SELECT event_id, type, data::text AS data, occurred_at FROM ledger
WHERE tenant = $1 AND type >= 'change.' AND type < 'change/' ORDER BY seq
"""


# What the data and compliance figures need: every backup run up to the period's end (a job's whole history
# decides its reference at the start), the restore tests finished in the period, and each (control, CI)'s newest
# result as of when the period is measured to.
_SIGNAL_EVENTS = """
SELECT event_id, type, data::text AS data, occurred_at, seq FROM ledger
WHERE tenant = $1 AND type = 'heartbeat.received' AND data->>'kind' = 'backup'
    AND occurred_at < $3::timestamptz + interval '1 minute'
UNION ALL
SELECT event_id, type, data::text, occurred_at, seq FROM ledger
WHERE tenant = $1 AND type = 'recovery_test.recorded'
    AND (data->>'finished_at')::timestamptz >= $2 AND (data->>'finished_at')::timestamptz < $3
UNION ALL
(SELECT DISTINCT ON (data->>'control_id', data->>'ci') event_id, type, data::text, occurred_at, seq FROM ledger
 WHERE tenant = $1 AND type = 'control.result_recorded' AND (data->>'checked_at')::timestamptz <= $4
 ORDER BY data->>'control_id', data->>'ci', (data->>'checked_at')::timestamptz DESC, seq DESC)
ORDER BY seq
"""


def _payload(text: str) -> dict[str, Any]:
    """A stored payload, decoded by orjson (a month's report decodes hundreds of thousands: ~4x faster than the
    standard library here); what orjson refuses and json accepts (integers past 64 bits, numbers past a double's
    range, lone surrogates) is decoded as it always was."""
    try:
        return orjson.loads(text)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return json.loads(text)  # type: ignore[no-any-return]


def _events(rows: list[asyncpg.Record]) -> list[Event]:
    return [Event(r["type"], _payload(r["data"]), r["occurred_at"], r["event_id"]) for r in rows]


async def ledger_slice(
    conn: asyncpg.Connection,
    *,
    tenant: str,
    start: datetime,
    end: datetime,
    downtime: list[str],
    measured_to: datetime | None = None,
) -> LedgerSlice:
    """What a report needs, read from one snapshot so its figures agree with each other; `measured_to`: the
    moment a period still running is measured to (default its end)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL TIME ZONE 'UTC'")  # payload times without an offset are UTC
        # The planner cannot estimate how many incidents the payload casts select (it guesses ~1,000 for a month
        # of 200,000) and probes the ledger once per incident; a hash join reads the tenant's rows once.
        await conn.execute("SET LOCAL enable_nestloop = off; SET LOCAL work_mem = '64MB'")
        incidents = await conn.fetch(_INCIDENT_EVENTS, tenant, start, end, downtime, list(STORY_TYPES))
        incidents.sort(key=lambda r: r["seq"])  # recording order: sorting the rows here, not every payload in SQL
        await conn.execute("SET LOCAL enable_nestloop = on; SET LOCAL work_mem = DEFAULT")
        changes = await conn.fetch(_CHANGE_EVENTS, tenant)
        signals = await conn.fetch(_SIGNAL_EVENTS, tenant, start, end, min(end, measured_to or end))
        count = await conn.fetchval(
            "SELECT count(*) FROM ledger WHERE tenant = $1 AND occurred_at >= $2 AND occurred_at < $3",
            tenant,
            start,
            end,
        )
    return LedgerSlice(_events(incidents), _events(changes), int(count), _events(signals))


async def incident_events(conn: asyncpg.Connection, *, tenant: str, ref: str) -> list[Event]:
    """Every ledger event of one incident (by id or number), in recording order."""
    rows = await conn.fetch(
        "WITH i AS (SELECT data->>'incident_id' AS id FROM ledger WHERE tenant = $1 AND type = 'incident.opened'"
        " AND (data->>'incident_id' = $2 OR data->>'number' = $2) LIMIT 1)"
        " SELECT event_id, type, data::text AS data, occurred_at FROM ledger"
        " WHERE tenant = $1 AND data->>'incident_id' = (SELECT id FROM i) ORDER BY seq",
        tenant,
        ref,
    )
    return _events(list(rows))


async def latest(conn: asyncpg.Connection, *, tenant: str, limit: int) -> list[RecordedEvent]:
    """A tenant's most recently recorded ledger rows, newest first."""
    rows = await conn.fetch(
        "SELECT event_id, seq, type, subject, occurred_at, correlation_id, data::text AS data, recorded_at"
        " FROM ledger WHERE tenant = $1 ORDER BY seq DESC LIMIT $2",
        tenant,
        limit,
    )
    return [RecordedEvent(**(dict(r) | {"data": json.loads(r["data"])})) for r in rows]


async def config_history(conn: asyncpg.Connection, *, limit: int) -> list[dict[str, Any]]:
    """The configuration versions recorded (config.applied), newest first: version, who, how, when, what changed."""
    rows = await conn.fetch(
        "SELECT data::text AS data FROM ledger WHERE tenant = '_provider' AND type = 'config.applied'"
        " ORDER BY seq DESC LIMIT $1",
        limit,
    )
    return [json.loads(r["data"]) for r in rows]
