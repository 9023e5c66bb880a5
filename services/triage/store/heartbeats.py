"""Triage's SQL for heartbeats and compliance control checks: lock a batch's rows (creating those not seen yet),
claim the late ones, save them, and read them for the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from libs.db import Spec, fields_as_columns, unnest_args
from services.triage.domain.controls import ControlCheck
from services.triage.domain.heartbeats import HeartbeatState

_BEAT = [("tenant", "text"), ("name", "text"), ("first_beat_at", "timestamptz"), ("last_beat_at", "timestamptz"),
         ("recovery_point", "timestamptz"), ("due_at", "timestamptz"), ("late_since", "timestamptz"),
         ("late_reason", "text"), ("fired", "int"), ("incident_id", "uuid")]  # fmt: skip
_CHECK = [("tenant", "text"), ("control_id", "text"), ("ci", "text"), ("result", "text"),
          ("checked_at", "timestamptz"), ("failing_since", "timestamptz"), ("fired", "int"),
          ("incident_id", "uuid")]  # fmt: skip
_BEAT_COLUMNS = ", ".join(c for c, _ in _BEAT)


def _state(row: Mapping[str, Any]) -> HeartbeatState:
    values = {c: row[c] for c, _ in _BEAT}
    return HeartbeatState(**(values | {"incident_id": str(row["incident_id"]) if row["incident_id"] else None}))


def _check(row: Mapping[str, Any]) -> ControlCheck:
    values = {c: row[c] for c, _ in _CHECK}
    return ControlCheck(**(values | {"incident_id": str(row["incident_id"]) if row["incident_id"] else None}))


async def _lock(
    conn: asyncpg.Connection, table: str, spec: Spec, width: int, keys: Sequence[tuple[str, ...]]
) -> list[asyncpg.Record]:
    """Rows of `table` by their first `width` columns, locked in key order; a key not seen yet gets its (empty)
    row first, so two replicas' batches meet on the same row instead of both inserting it."""
    ordered = sorted(set(keys))
    key = ", ".join(c for c, _ in spec[:width])
    cols, args = [[k[i] for k in ordered] for i in range(width)], unnest_args(spec[:width])
    await conn.execute(f"INSERT INTO {table} ({key}) SELECT * FROM unnest({args}) ON CONFLICT DO NOTHING", *cols)
    return await conn.fetch(
        f"SELECT {', '.join(c for c, _ in spec)} FROM {table} WHERE ({key}) IN (SELECT * FROM unnest({args}))"
        f" ORDER BY {key} FOR UPDATE",
        *cols,
    )


async def _save(conn: asyncpg.Connection, table: str, spec: Spec, width: int, rows: Sequence[Any]) -> None:
    """Write back rows of `table`, matched on their first `width` columns, in one statement."""
    if rows:
        sets = ", ".join(f"{c} = u.{c}" for c, _ in spec[width:])
        match = " AND ".join(f"t.{c} = u.{c}" for c, _ in spec[:width])
        names = ", ".join(c for c, _ in spec)
        await conn.execute(
            f"UPDATE {table} t SET {sets} FROM unnest({unnest_args(spec)}) AS u({names}) WHERE {match}",
            *fields_as_columns(rows, spec),
        )


async def lock_heartbeats(
    conn: asyncpg.Connection, *, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], HeartbeatState]:
    """The batch's heartbeats (tenant, name), row-locked; one never heard from gets its empty row first."""
    return {(r["tenant"], r["name"]): _state(r) for r in await _lock(conn, "heartbeats", _BEAT, 2, keys)}


async def claim_late_heartbeats(conn: asyncpg.Connection, *, now: datetime, limit: int) -> list[HeartbeatState]:
    """Heartbeats past their deadline, locked for this transaction (another replica skips them)."""
    rows = await conn.fetch(
        f"SELECT {_BEAT_COLUMNS} FROM heartbeats WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )
    return [_state(r) for r in rows]


async def save_heartbeats(conn: asyncpg.Connection, *, states: Sequence[HeartbeatState]) -> None:
    await _save(conn, "heartbeats", _BEAT, 2, states)


@dataclass(frozen=True)
class HeartbeatRead:
    """A heartbeat row for the API, with the incident its late alert opened while that incident is open."""

    state: HeartbeatState
    incident_number: str | None
    incident_state: str | None


async def heartbeat_rows(conn: asyncpg.Connection, *, tenants: Sequence[str]) -> list[HeartbeatRead]:
    rows = await conn.fetch(
        f"SELECT {', '.join(f'h.{c}' for c, _ in _BEAT)}, i.number AS incident_number, i.state AS incident_state"
        " FROM heartbeats h LEFT JOIN incidents i ON i.id = h.incident_id AND i.state NOT IN ('resolved', 'closed')"
        " WHERE h.tenant = ANY($1::text[]) AND h.last_beat_at IS NOT NULL",
        list(tenants),
    )
    return [HeartbeatRead(_state(r), r["incident_number"], r["incident_state"]) for r in rows]


async def lock_control_checks(
    conn: asyncpg.Connection, *, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], ControlCheck]:
    """The batch's (tenant, control, CI) checks, row-locked, created empty if new (as heartbeats)."""
    rows = await _lock(conn, "control_checks", _CHECK, 3, keys)
    return {(r["tenant"], r["control_id"], r["ci"]): _check(r) for r in rows}


async def save_control_checks(conn: asyncpg.Connection, *, checks: Sequence[ControlCheck]) -> None:
    await _save(conn, "control_checks", _CHECK, 3, checks)
