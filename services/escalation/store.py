"""Escalation's only SQL: SLA clocks, escalation policy runs, notifications and their attempts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from libs.db import columns

_COLUMNS = (
    "incident_id, clock, tenant, number, priority, tier, calendar, target_s, started_at, due_at,"
    " stopped_at, breached_at, fired_late, coverage, warn_at, warned, paused_at, pause_reason, paused_s, next_fire_at,"
    " started_tier"
)
_CLOCK_FIELDS = set(
    "stopped_at breached_at fired_late warned paused_at pause_reason paused_s due_at next_fire_at tier priority"
    " target_s".split()
)
_RUN_FIELDS = {"step", "round", "tier", "step_started_at", "step_due_at", "state", "priority"}


def _set_clause(fields: dict[str, Any], allowed: set[str], first: int) -> str:
    unknown = set(fields) - allowed
    assert not unknown, f"not updatable: {unknown}"
    return ", ".join(f"{name} = ${first + i}" for i, name in enumerate(fields))


# --- clocks ---------------------------------------------------------------------------------------------


async def start_clocks(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> list[asyncpg.Record]:
    """Insert clocks; an already-started clock (a replayed event) is left alone. Returns the new rows.

    rows: (incident_id, clock, tenant, number, priority, tier, calendar, target_s, started_at, due_at,
    coverage JSON, warn_at, next_fire_at).
    """
    if not rows:
        return []
    cols = list(zip(*rows, strict=True))
    warn_text = ["{" + ",".join(map(str, w)) + "}" for w in cols[11]]  # float8[][] would need equal lengths
    return await conn.fetch(
        "INSERT INTO sla_clocks (incident_id, clock, tenant, number, priority, tier, calendar, target_s,"
        " started_at, due_at, coverage, warn_at, next_fire_at, started_tier) SELECT i, c, t, n, p, ti, ca, ta, s, d,"
        " cv, w::float8[], nf, ti FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::smallint[], $7::text[], $8::float8[], $9::timestamptz[], $10::timestamptz[], $11::jsonb[],"
        " $12::text[], $13::timestamptz[]) AS u(i, c, t, n, p, ti, ca, ta, s, d, cv, w, nf)"
        f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
        *[list(c) for c in cols[:11]],
        warn_text,
        list(cols[12]),
    )


async def running_clocks(conn: asyncpg.Connection, *, incident_id: str, clocks: Sequence[str]) -> list[asyncpg.Record]:
    """The incident's named clocks that have not stopped, locked for update."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM sla_clocks WHERE incident_id = $1 AND clock = ANY($2::text[])"
        " AND stopped_at IS NULL ORDER BY clock FOR UPDATE",
        incident_id,
        list(clocks),
    )


async def stopped_clocks(conn: asyncpg.Connection, *, incident_id: str, clocks: Sequence[str]) -> list[asyncpg.Record]:
    """The incident's named clocks that have stopped, locked for update (a reopen restarts them)."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM sla_clocks WHERE incident_id = $1 AND clock = ANY($2::text[])"
        " AND stopped_at IS NOT NULL ORDER BY clock FOR UPDATE",
        incident_id,
        list(clocks),
    )


async def update_clock(conn: asyncpg.Connection, *, incident_id: Any, clock: str, **fields: Any) -> None:
    sets = _set_clause(fields, _CLOCK_FIELDS, 3)
    await conn.execute(
        f"UPDATE sla_clocks SET {sets} WHERE incident_id = $1 AND clock = $2", incident_id, clock, *fields.values()
    )


async def set_tier(conn: asyncpg.Connection, *, incident_id: str, tier: int) -> None:
    await conn.execute("UPDATE sla_clocks SET tier = $2 WHERE incident_id = $1", incident_id, tier)


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    """Clocks with a warning or breach due, locked together with their incident's policy run; SKIP LOCKED so
    two replicas never claim the same clock, and so the timer never waits for a lock a handler holds (it
    skips that clock until the next tick instead), which rules out deadlocks between them."""
    cols = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
    rows = await conn.fetch(
        f"SELECT {cols}, now() AS fired_at FROM sla_clocks c JOIN escalation_runs r ON r.incident_id = c.incident_id"
        " WHERE c.next_fire_at <= now() ORDER BY c.next_fire_at LIMIT $1 FOR UPDATE OF c, r SKIP LOCKED",
        limit,
    )
    if len(rows) < limit:  # clocks started before policy runs existed (migration 003) have none
        rows += await conn.fetch(
            f"SELECT {cols}, now() AS fired_at FROM sla_clocks c WHERE c.next_fire_at <= now()"
            " AND NOT EXISTS (SELECT 1 FROM escalation_runs r WHERE r.incident_id = c.incident_id)"
            " ORDER BY c.next_fire_at LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit - len(rows),
        )
    return rows


async def save_fired(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """rows: (incident_id, clock, warned, breached_at, fired_late, next_fire_at) after firing."""
    await conn.executemany(
        "UPDATE sla_clocks SET warned = $3, breached_at = COALESCE(breached_at, $4),"
        " fired_late = COALESCE(fired_late, $5), next_fire_at = $6 WHERE incident_id = $1 AND clock = $2",
        rows,
    )


async def clocks_for(conn: asyncpg.Connection, *, ref: str) -> list[asyncpg.Record]:
    """An incident's clocks, by its id (UUID) or its number (ACME-42)."""
    try:
        key, column = uuid.UUID(ref), "incident_id"
    except ValueError:
        key, column = ref.upper(), "number"
    return await conn.fetch(f"SELECT {_COLUMNS} FROM sla_clocks WHERE {column} = $1 ORDER BY clock", key)


# --- escalation policy runs -----------------------------------------------------------------------------


async def start_runs(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> list[asyncpg.Record]:
    """rows: (incident_id, tenant, number, title, priority, category, policy, steps JSON, repeat, coverage JSON,
    step, tier, step_started_at, step_due_at, sla JSON). Returns the runs started now (a replay starts none)."""
    if not rows:
        return []
    return await conn.fetch(
        "INSERT INTO escalation_runs (incident_id, tenant, number, title, priority, category, policy, steps,"
        " repeat, coverage, step, tier, step_started_at, step_due_at, sla) SELECT * FROM unnest($1::uuid[],"
        " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::smallint[],"
        " $10::jsonb[], $11::smallint[], $12::smallint[], $13::timestamptz[], $14::timestamptz[], $15::jsonb[])"
        " ON CONFLICT DO NOTHING RETURNING *",
        *columns(rows),
    )


async def runs(conn: asyncpg.Connection, *, incident_ids: Sequence[Any], lock: bool = False) -> list[asyncpg.Record]:
    ids = sorted({str(i) for i in incident_ids})  # one lock order, so concurrent transactions cannot deadlock
    return await conn.fetch(
        "SELECT * FROM escalation_runs WHERE incident_id = ANY($1::uuid[]) ORDER BY incident_id"
        + (" FOR UPDATE" if lock else ""),
        ids,
    )


async def update_run(conn: asyncpg.Connection, *, incident_id: Any, **fields: Any) -> None:
    sets = _set_clause(fields, _RUN_FIELDS, 2)
    await conn.execute(f"UPDATE escalation_runs SET {sets} WHERE incident_id = $1", incident_id, *fields.values())


async def claim_due_runs(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT *, now() AS fired_at FROM escalation_runs WHERE step_due_at <= now()"
        " ORDER BY step_due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )


# --- notifications --------------------------------------------------------------------------------------


async def enqueue(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """rows: (id, tenant, incident_id, number, target, kind, trigger, dedup_key, body JSON). A replayed cause
    (same target and dedup key) enqueues nothing. Returns how many were new."""
    if not rows:
        return 0
    status = await conn.execute(
        "INSERT INTO notifications (id, tenant, incident_id, number, target, kind, trigger, dedup_key, body)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::text[], $9::jsonb[]) ON CONFLICT DO NOTHING",
        *columns(rows),
    )
    return int(status.rsplit(" ", 1)[-1])


async def claim_deliveries(conn: asyncpg.Connection, *, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Pending notifications that are due, leased to this replica for `lease_s` (no other replica sends them
    meanwhile; if this one dies mid-send, the lease runs out and another tries again)."""
    return await conn.fetch(
        "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)"
        " WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING *",
        limit,
        lease_s,
    )


async def record_attempt(
    conn: asyncpg.Connection,
    *,
    notification_id: Any,
    attempt: int,
    at: datetime,
    ok: bool,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    status: str,
    next_attempt_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO notification_attempts (notification_id, attempt, at, ok, status_code, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        notification_id,
        attempt,
        at,
        ok,
        status_code,
        error,
        duration_ms,
    )
    await conn.execute(
        "UPDATE notifications SET status = $2, last_error = $3, next_attempt_at = $4,"
        " finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $5::timestamptz END WHERE id = $1",
        notification_id,
        status,
        error,
        next_attempt_at,
        at,
    )


_NOTIFICATION_COLUMNS = (
    "n.id, n.tenant, n.incident_id, n.number, n.target, n.kind, n.trigger, n.status, n.attempts,"
    " n.next_attempt_at, n.last_error, n.created_at, n.finished_at"
)


async def list_notifications(
    conn: asyncpg.Connection,
    *,
    tenants: list[str] | None,
    incident: str | None,
    status: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Notifications newest first, each with its attempts (a JSON array)."""
    where, args = (
        ["($1::text[] IS NULL OR n.tenant = ANY($1::text[]))", "($2::text IS NULL OR n.status = $2)"],
        [
            tenants,
            status,
        ],
    )
    if incident is not None:
        try:
            args.append(uuid.UUID(incident))  # type: ignore[arg-type]
            where.append(f"n.incident_id = ${len(args)}")
        except ValueError:
            args.append(incident.upper())  # type: ignore[arg-type]
            where.append(f"n.number = ${len(args)}")
    args.append(limit)  # type: ignore[arg-type]
    return await conn.fetch(
        f"SELECT {_NOTIFICATION_COLUMNS}, COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt,"
        " 'at', a.at, 'ok', a.ok, 'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms)"
        " ORDER BY a.attempt) FROM notification_attempts a WHERE a.notification_id = n.id), '[]') AS attempt_log"
        f" FROM notifications n WHERE {' AND '.join(where)} ORDER BY n.created_at DESC, n.id LIMIT ${len(args)}",
        *args,
    )
