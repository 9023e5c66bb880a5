"""Triage's only SQL. Batch writes use unnest()/executemany so one transaction carries a whole fetch batch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.triage.domain import Incident

_COLUMNS = (
    "id, tenant, number, title, state, priority, impact, urgency, category, ci, tier, dedup_key, source,"
    " severity, occurrences, opened_at, detected_at, last_seen, acknowledged_at, resolved_at"
)


def _incident(row: asyncpg.Record) -> Incident:
    data = dict(row)
    data["id"] = str(data["id"])
    return Incident(**data)


async def lock_open_incidents(
    conn: asyncpg.Connection, *, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Incident]:
    """Open incidents for these (tenant, dedup_key) pairs, row-locked; keys sorted so batches never deadlock."""
    if not keys:
        return {}
    ordered = sorted(set(keys))
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM incidents i"
        " JOIN unnest($1::text[], $2::text[]) AS k(tenant, dedup_key) USING (tenant, dedup_key)"
        " WHERE i.state NOT IN ('resolved', 'closed') ORDER BY i.tenant, i.dedup_key FOR UPDATE OF i",
        [t for t, _ in ordered],
        [k for _, k in ordered],
    )
    return {(r["tenant"], r["dedup_key"]): _incident(r) for r in rows}


async def allocate_numbers(conn: asyncpg.Connection, *, counts: dict[str, int]) -> dict[str, int]:
    """Reserve `count` incident numbers per tenant; returns the first number of each tenant's block."""
    if not counts:
        return {}
    tenants = sorted(counts)
    rows = await conn.fetch(
        "INSERT INTO tenant_counters(tenant, last_number) SELECT * FROM unnest($1::text[], $2::int[])"
        " ON CONFLICT (tenant) DO UPDATE SET last_number = tenant_counters.last_number + EXCLUDED.last_number"
        " RETURNING tenant, last_number",
        tenants,
        [counts[t] for t in tenants],
    )
    return {r["tenant"]: r["last_number"] - counts[r["tenant"]] + 1 for r in rows}


async def get_incident(conn: asyncpg.Connection, *, ref: str, lock: bool = False) -> Incident | None:
    """By id (uuid) or per-tenant number (ACME-42)."""
    try:
        key, clause = uuid.UUID(ref), "id = $1"
    except ValueError:
        key, clause = ref.upper(), "number = $1"
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM incidents WHERE {clause}" + (" FOR UPDATE" if lock else ""), key)
    return _incident(row) if row else None


async def incident_details(
    conn: asyncpg.Connection, *, incident_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    timeline = await conn.fetch(
        "SELECT at, kind, actor, detail FROM timeline WHERE incident_id = $1 ORDER BY id", incident_id
    )
    alerts = await conn.fetch(
        "SELECT alert_id, status, severity, summary, received_at, effect FROM incident_alerts"
        " WHERE incident_id = $1 ORDER BY received_at, alert_id LIMIT 200",
        incident_id,
    )
    return [dict(r) | {"detail": json.loads(r["detail"])} for r in timeline], [dict(r) for r in alerts]


async def list_incidents(
    conn: asyncpg.Connection,
    *,
    tenants: Sequence[str] | None,
    state: str | None,
    priority: str | None,
    tier: int | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Incident]:
    """Newest first, keyset-paginated on (opened_at, id)."""
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if tenants is not None:
        where.append(f"tenant = ANY({arg(list(tenants))}::text[])")
    if state:
        where.append(f"state = {arg(state)}")
    if priority:
        where.append(f"priority = {arg(priority)}")
    if tier:
        where.append(f"tier = {arg(tier)}")
    if before:
        where.append(f"(opened_at, id) < ({arg(before[0])}, {arg(before[1])}::uuid)")
    sql = f"SELECT {_COLUMNS} FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY opened_at DESC, id DESC LIMIT {arg(limit)}"
    return [_incident(r) for r in await conn.fetch(sql, *args)]


_INCIDENT_TYPES = (
    "uuid text text text text text text text text text smallint text text text int timestamptz timestamptz"
    " timestamptz timestamptz timestamptz"
).split()


async def record_batch(
    conn: asyncpg.Connection,
    *,
    incidents: Sequence[Incident],
    alerts: Sequence[tuple[Any, ...]],
    timeline: Sequence[tuple[str, datetime, str, str, dict[str, Any]]],
) -> None:
    """Incidents (upserted, in id order), their alerts and timeline entries in ONE statement: a fetched
    batch's, or one API command's.

    Three statements cost three round trips inside the transaction that every alert waits on; the
    foreign keys still hold, since they are checked at the end of the statement.
    """
    rows = [_incident_row(i) for i in sorted(incidents, key=lambda i: i.id)]
    inc_cols = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in _INCIDENT_TYPES]
    al_cols = [list(c) for c in zip(*alerts, strict=True)] if alerts else [[] for _ in range(8)]
    tl = [(i, at, k, a, json.dumps(d, default=str)) for i, at, k, a, d in timeline]
    tl_cols = [list(c) for c in zip(*tl, strict=True)] if tl else [[] for _ in range(5)]
    n = len(_INCIDENT_TYPES)
    inc_args = ", ".join(f"${k + 1}::{t}[]" for k, t in enumerate(_INCIDENT_TYPES))
    al_types = "text uuid text text text text timestamptz text".split()
    al_args = ", ".join(f"${n + k + 1}::{t}[]" for k, t in enumerate(al_types))
    tl_args = ", ".join(f"${n + 8 + k + 1}::{t}[]" for k, t in enumerate("uuid timestamptz text text jsonb".split()))
    await conn.execute(
        f"WITH inc AS (INSERT INTO incidents ({_COLUMNS}) SELECT * FROM unnest({inc_args})"
        " ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, tier = EXCLUDED.tier,"
        " severity = EXCLUDED.severity, occurrences = EXCLUDED.occurrences, last_seen = EXCLUDED.last_seen,"
        " acknowledged_at = EXCLUDED.acknowledged_at, resolved_at = EXCLUDED.resolved_at RETURNING 1),"
        f" al AS (INSERT INTO incident_alerts SELECT * FROM unnest({al_args}) ON CONFLICT (alert_id) DO NOTHING"
        " RETURNING 1)"
        f" INSERT INTO timeline(incident_id, at, kind, actor, detail) SELECT * FROM unnest({tl_args})",
        *inc_cols,
        *al_cols,
        *tl_cols,
    )


def _incident_row(i: Incident) -> tuple[Any, ...]:
    return (
        i.id, i.tenant, i.number, i.title, i.state, i.priority, i.impact, i.urgency, i.category, i.ci, i.tier,
        i.dedup_key, i.source, i.severity, i.occurrences, i.opened_at, i.detected_at, i.last_seen,
        i.acknowledged_at, i.resolved_at,
    )  # fmt: skip
