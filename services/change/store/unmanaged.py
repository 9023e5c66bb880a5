"""Change's SQL for unmanaged changes: what tools report (intake.change_received), the incidents change keeps
for a report that arrives late, the links between the two, and the (tenant, CI) locks that make them meet."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from libs.db import columns
from services.change.domain.unmanaged import OpenedIncident, UnmanagedChange
from services.change.store.rows import Probe, UnmanagedOnCalendar, probe_columns

_COLUMNS = "tenant, signal_id, source, integration, summary, ci, at, received_at, custom_details, links"
_INCIDENTS = (
    "COALESCE((SELECT json_agg(json_build_object('incident_id', l.incident_id, 'incident_number', l.incident_number,"
    " 'priority', l.priority, 'opened_at', l.opened_at) ORDER BY l.opened_at) FROM unmanaged_change_incidents l"
    " WHERE l.tenant = u.tenant AND l.signal_id = u.signal_id), '[]')"
)


def _unmanaged(row: asyncpg.Record) -> dict[str, Any]:
    """A row's fields, its JSON columns parsed."""
    data = {k: row[k] for k in _COLUMNS.split(", ")}
    return data | {k: json.loads(row[k]) for k in ("custom_details", "links")}


async def record_unmanaged(conn: asyncpg.Connection, *, change: UnmanagedChange) -> bool:
    """False when this signal was recorded before (idempotent by tenant and signal id)."""
    status = await conn.execute(
        f"INSERT INTO unmanaged_changes ({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING",
        change.tenant,
        change.signal_id,
        change.source,
        change.integration,
        change.summary,
        change.ci,
        change.at,
        change.received_at,
        json.dumps(change.custom_details),
        json.dumps(change.links),
    )
    return status.endswith(" 1")


async def unmanaged_in(conn: asyncpg.Connection, *, scope: str, args: Sequence[Any]) -> list[UnmanagedOnCalendar]:
    """Unmanaged changes reported in [$1, $2) within `scope` (a clause on $3), at most $4, with their incidents."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, {_INCIDENTS} AS incidents FROM unmanaged_changes u WHERE at >= $1 AND at < $2 {scope}"
        " ORDER BY at, signal_id LIMIT $4",
        *args,
    )
    return [UnmanagedOnCalendar(**_unmanaged(r), incidents=json.loads(r["incidents"])) for r in rows]


async def unmanaged_suspects(conn: asyncpg.Connection, *, probes: Sequence[Probe]) -> list[list[UnmanagedChange]]:
    """For each probe of a batch of new incidents, in one query: the changes tools reported on its CI no more
    than the window before it opened. One list per probe, in the probes' order."""
    found: list[list[UnmanagedChange]] = [[] for _ in probes]
    if not probes:
        return found
    rows = await conn.fetch(
        f"SELECT p.idx, {', '.join('u.' + c for c in _COLUMNS.split(', '))} FROM unmanaged_changes u"
        " JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[])"
        " WITH ORDINALITY AS p(tenant, ci, opened_at, window_s, idx) ON u.tenant = p.tenant AND u.ci = p.ci"
        " AND u.at <= p.opened_at AND u.at >= p.opened_at - make_interval(secs => p.window_s)"
        " ORDER BY p.idx, u.at, u.signal_id",
        *probe_columns(probes),
    )
    for r in rows:
        found[int(r["idx"]) - 1].append(UnmanagedChange(**_unmanaged(r)))
    return found


async def add_unmanaged_link(
    conn: asyncpg.Connection, *, change: UnmanagedChange, incident: OpenedIncident, linked_at: datetime
) -> bool:
    """False when this incident was already linked to this signal (a replay)."""
    status = await conn.execute(
        "INSERT INTO unmanaged_change_incidents (tenant, signal_id, incident_id, incident_number, priority,"
        " opened_at, linked_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        change.tenant,
        change.signal_id,
        incident.incident_id,
        incident.incident_number,
        incident.priority,
        incident.opened_at,
        linked_at,
    )
    return status.endswith(" 1")


# How long change remembers an incident for a tool's late change event: one reported more than this after
# the change it describes links only the incidents of this last stretch.
INCIDENT_MEMORY = timedelta(days=7)
_SEEN_COLUMNS = "tenant, incident_id, incident_number, priority, ci, opened_at"


async def remember_incidents(conn: asyncpg.Connection, *, incidents: Sequence[OpenedIncident]) -> None:
    """Keep each new incident for late change events, and forget those older than INCIDENT_MEMORY, in one
    statement per batch."""
    if not incidents:
        return
    await conn.execute(
        "WITH forgotten AS (DELETE FROM incidents_seen WHERE opened_at < now() - $7::interval)"
        f" INSERT INTO incidents_seen ({_SEEN_COLUMNS})"
        " SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        *[[getattr(i, c) for i in incidents] for c in _SEEN_COLUMNS.split(", ")],
        INCIDENT_MEMORY,
    )


async def incidents_after(
    conn: asyncpg.Connection, *, tenant: str, ci: str, at: datetime, window: timedelta
) -> list[OpenedIncident]:
    """The incidents seen opening on `ci` from `at` to `window` after it, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_SEEN_COLUMNS} FROM incidents_seen"
        " WHERE tenant = $1 AND ci = $2 AND opened_at >= $3 AND opened_at <= $3 + $4::interval"
        " ORDER BY opened_at, incident_number",
        tenant,
        ci,
        at,
        window,
    )
    return [OpenedIncident(**dict(r) | {"incident_id": str(r["incident_id"])}) for r in rows]


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
