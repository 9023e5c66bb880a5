"""Change's SQL for unmanaged changes: what tools report (intake.change_received) and the incidents after them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from libs.db import columns

_INCIDENTS = (
    "COALESCE((SELECT json_agg(json_build_object('incident_id', l.incident_id, 'incident_number', l.incident_number,"
    " 'priority', l.priority, 'opened_at', l.opened_at) ORDER BY l.opened_at) FROM unmanaged_change_incidents l"
    " WHERE l.tenant = u.tenant AND l.signal_id = u.signal_id), '[]')"
)


async def record_unmanaged(conn: asyncpg.Connection, *, tenant: str, row: dict[str, Any]) -> bool:
    """False when this signal was recorded before (idempotent by tenant and signal id)."""
    status = await conn.execute(
        "INSERT INTO unmanaged_changes (tenant, signal_id, source, integration, summary, ci, at, received_at,"
        " custom_details, links) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING",
        tenant,
        row["signal_id"],
        row["source"],
        row["integration"],
        row["summary"],
        row["ci"],
        row["at"],
        row["received_at"],
        json.dumps(row["custom_details"]),
        json.dumps(row["links"]),
    )
    return status.endswith(" 1")


async def unmanaged_in(conn: asyncpg.Connection, *, scope: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    """Unmanaged changes reported in [$1, $2) within `scope` (a clause on $3), at most $4, with their incidents."""
    rows = await conn.fetch(
        "SELECT tenant, signal_id, source, integration, summary, ci, at, received_at, custom_details, links,"
        f" {_INCIDENTS} AS incidents FROM unmanaged_changes u WHERE at >= $1 AND at < $2 {scope}"
        " ORDER BY at, signal_id LIMIT $4",
        *args,
    )
    return [dict(r) | {k: json.loads(r[k]) for k in ("custom_details", "links", "incidents")} for r in rows]


async def unmanaged_suspects(
    conn: asyncpg.Connection, *, probes: Sequence[tuple[str, str, datetime, float]]
) -> list[tuple[int, asyncpg.Record]]:
    """For each probe (tenant, ci, opened_at, window seconds) of a batch of new incidents, in one query: the
    changes tools reported on that CI no more than the window before it opened, as (probe index, row)."""
    if not probes:
        return []
    rows = await conn.fetch(
        "SELECT p.idx, u.signal_id, u.source, u.integration, u.summary, u.ci, u.at FROM unmanaged_changes u"
        " JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[])"
        " WITH ORDINALITY AS p(tenant, ci, opened_at, window_s, idx) ON u.tenant = p.tenant AND u.ci = p.ci"
        " AND u.at <= p.opened_at AND u.at >= p.opened_at - make_interval(secs => p.window_s)"
        " ORDER BY p.idx, u.at, u.signal_id",
        *columns(probes),
    )
    return [(int(r["idx"]) - 1, r) for r in rows]


async def add_unmanaged_link(
    conn: asyncpg.Connection, *, tenant: str, signal_id: str, incident: dict[str, Any], linked_at: datetime
) -> bool:
    """False when this incident was already linked to this signal (a replay)."""
    status = await conn.execute(
        "INSERT INTO unmanaged_change_incidents (tenant, signal_id, incident_id, incident_number, priority,"
        " opened_at, linked_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        tenant,
        signal_id,
        incident["incident_id"],
        incident["incident_number"],
        incident["priority"],
        incident["opened_at"],
        linked_at,
    )
    return status.endswith(" 1")


# How long change remembers an incident for a tool's late change event: one reported more than this after
# the change it describes links only the incidents of this last stretch.
INCIDENT_MEMORY = timedelta(days=7)


Seen = tuple[str, str, str, str, str, datetime]  # tenant, incident_id, number, priority, ci, opened_at


async def remember_incidents(conn: asyncpg.Connection, *, incidents: Sequence[Seen]) -> None:
    """Keep each new incident (tenant, incident_id, number, priority, ci, opened_at) for late change events, and
    forget those older than INCIDENT_MEMORY, in one statement per batch."""
    if not incidents:
        return
    await conn.execute(
        "WITH forgotten AS (DELETE FROM incidents_seen WHERE opened_at < now() - $7::interval)"
        " INSERT INTO incidents_seen (tenant, incident_id, incident_number, priority, ci, opened_at)"
        " SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        *columns(incidents),
        INCIDENT_MEMORY,
    )


async def incidents_after(
    conn: asyncpg.Connection, *, tenant: str, ci: str, at: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """The incidents seen opening on `ci` from `at` to `window` after it, oldest first."""
    rows = await conn.fetch(
        "SELECT incident_id, incident_number, priority, opened_at FROM incidents_seen"
        " WHERE tenant = $1 AND ci = $2 AND opened_at >= $3 AND opened_at <= $3 + $4::interval"
        " ORDER BY opened_at, incident_number",
        tenant,
        ci,
        at,
        window,
    )
    return [dict(r) | {"incident_id": str(r["incident_id"])} for r in rows]


async def lock_cis(conn: asyncpg.Connection, *, keys: Sequence[tuple[str, str]]) -> None:
    """Hold (tenant, ci) until the transaction ends, in one order: an incident and a change event on one CI
    handled at once by two replicas would otherwise each miss the other's uncommitted row, and neither link."""
    if not keys:
        return
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT"
        " hashtextextended('tierline-change-ci:' || t || '/' || c, 0) AS k"
        " FROM unnest($1::text[], $2::text[]) AS u(t, c)) s ORDER BY k",
        *columns(keys),
    )
