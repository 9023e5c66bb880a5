"""Triage's SQL, the read side: incidents, their details, suppressed alerts and provider incidents for the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.triage.domain import OPEN_STATES, Incident
from services.triage.store.writes import _COLUMNS, _incident


async def provider_incident(conn: asyncpg.Connection, *, ref: str) -> tuple[dict[str, Any], list[Incident]] | None:
    try:
        key, clause = uuid.UUID(ref), "id = $1"
    except ValueError:
        key, clause = ref.upper(), "number = $1"
    row = await conn.fetchrow(f"SELECT * FROM provider_incidents WHERE {clause}", key)
    if row is None:
        return None
    kids = await conn.fetch(f"SELECT {_COLUMNS} FROM incidents WHERE parent_id = $1 ORDER BY opened_at", row["id"])
    return dict(row), [_incident(r) for r in kids]


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
        "SELECT alert_id, dedup_key, status, severity, summary, received_at, effect, note FROM incident_alerts"
        " WHERE incident_id = $1 ORDER BY received_at, alert_id LIMIT 200",
        incident_id,
    )
    return [dict(r) | {"detail": json.loads(r["detail"])} for r in timeline], [dict(r) for r in alerts]


async def suppressed_alerts(
    conn: asyncpg.Connection, *, tenants: Sequence[str] | None, limit: int
) -> list[dict[str, Any]]:
    """Newest first; `held` (with `held_until`) marks the alert that will be triaged again when its window
    ends, unless resolved before (release.py). Repeats it superseded and alerts since resolved are not held."""
    sql = (
        "SELECT a.alert_id, a.tenant, a.dedup_key, a.status, a.severity, a.summary, a.received_at, a.note,"
        " a.incident_id, h.alert_id IS NOT NULL AS held, h.held_until FROM incident_alerts a"
        " LEFT JOIN held_alerts h ON h.tenant = a.tenant AND h.dedup_key = a.dedup_key AND h.alert_id = a.alert_id"
        " WHERE a.effect = 'suppressed' AND ($1::text[] IS NULL OR a.tenant = ANY($1::text[]))"
        " ORDER BY a.received_at DESC LIMIT $2"
    )
    return [dict(r) for r in await conn.fetch(sql, list(tenants) if tenants is not None else None, limit)]


async def list_incidents(
    conn: asyncpg.Connection,
    *,
    tenants: Sequence[str] | None,
    filters: dict[str, Any],
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Incident]:
    """Newest first, keyset-paginated on (opened_at, id). `filters`: column -> value (None: IS NULL)."""
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if tenants is not None:
        where.append(f"tenant = ANY({arg(list(tenants))}::text[])")
    for column, value in filters.items():
        assert column in ("state", "priority", "tier", "category", "assignee", "breached", "at_risk", "type", "queue")
        if column == "state" and value == "open":
            where.append(f"state = ANY({arg(list(OPEN_STATES))}::text[])")
        else:
            where.append(f"{column} IS NULL" if value is None else f"{column} = {arg(value)}")
    if before:
        where.append(f"(opened_at, id) < ({arg(before[0])}, {arg(before[1])}::uuid)")
    sql = f"SELECT {_COLUMNS} FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY opened_at DESC, id DESC LIMIT {arg(limit)}"
    return [_incident(r) for r in await conn.fetch(sql, *args)]
