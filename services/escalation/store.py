"""Escalation's only SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = (
    "incident_id, clock, tenant, number, priority, tier, calendar, target_s, started_at, due_at,"
    " stopped_at, breached_at, fired_late"
)


async def start_clocks(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> list[asyncpg.Record]:
    """Insert clocks; an already-started clock (a replayed event) is left alone. Returns the new rows."""
    if not rows:
        return []
    cols = list(zip(*rows, strict=True))
    return await conn.fetch(
        "INSERT INTO sla_clocks (incident_id, clock, tenant, number, priority, tier, calendar, target_s,"
        " started_at, due_at) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::smallint[], $7::text[], $8::float8[], $9::timestamptz[], $10::timestamptz[])"
        f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
        *[list(c) for c in cols],
    )


async def stop_clocks(
    conn: asyncpg.Connection, *, incident_id: str, clocks: Sequence[str], at: datetime
) -> list[asyncpg.Record]:
    """Stop the named clocks if still running; returns the clocks stopped now."""
    return await conn.fetch(
        f"UPDATE sla_clocks SET stopped_at = $3 WHERE incident_id = $1 AND clock = ANY($2::text[])"
        f" AND stopped_at IS NULL RETURNING {_COLUMNS}",
        incident_id,
        list(clocks),
        at,
    )


async def set_tier(conn: asyncpg.Connection, *, incident_id: str, tier: int) -> None:
    await conn.execute("UPDATE sla_clocks SET tier = $2 WHERE incident_id = $1", incident_id, tier)


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    """Due, unfired clocks, locked; SKIP LOCKED so two replicas never claim the same deadline."""
    return await conn.fetch(
        f"SELECT {_COLUMNS}, now() AS fired_at FROM sla_clocks"
        " WHERE stopped_at IS NULL AND breached_at IS NULL AND due_at <= now()"
        " ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )


async def mark_breached(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, datetime, bool]]) -> None:
    """rows: (incident_id, clock, breached_at, late)."""
    await conn.executemany(
        "UPDATE sla_clocks SET breached_at = $3, fired_late = $4 WHERE incident_id = $1 AND clock = $2", rows
    )


async def clocks_for(conn: asyncpg.Connection, *, ref: str) -> list[asyncpg.Record]:
    """An incident's clocks, by its id (UUID) or its number (ACME-42)."""
    try:
        key, column = uuid.UUID(ref), "incident_id"
    except ValueError:
        key, column = ref.upper(), "number"
    return await conn.fetch(f"SELECT {_COLUMNS} FROM sla_clocks WHERE {column} = $1 ORDER BY clock", key)
