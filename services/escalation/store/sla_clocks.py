"""SQL of `sla_clocks`: one row per incident and clock (response, resolution), read and written as SlaClock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import fields

import asyncpg

from libs.calendar import calendar_from_json
from services.escalation.domain.clock import SlaClock
from services.escalation.store import Claimed, arrays, assignments, inserted, snapshot

COLUMNS = tuple(f.name for f in fields(SlaClock) if f.name != "cal")
_SELECT = ", ".join(COLUMNS)
# What happens to a clock after it started (its incident, contract terms and start never change).
_STATE = ("priority", "tier", "target_s", "due_at", "stopped_at", "breached_at", "fired_late", "warned", "paused_at",
          "pause_reason", "paused_s", "next_fire_at")  # fmt: skip


def _read(row: asyncpg.Record) -> SlaClock:
    values = dict(row)
    values.pop("fired_at", None)  # a claim's time, not the clock's
    coverage = values["coverage"]  # jsonb text: its calendar is cached by it
    values.update(incident_id=str(row["incident_id"]), coverage=snapshot(coverage), warn_at=tuple(row["warn_at"]))
    return SlaClock(**values, cal=calendar_from_json(coverage))


async def start(conn: asyncpg.Connection, clocks: Sequence[SlaClock]) -> list[SlaClock]:
    """Insert clocks; an already-started clock (a replayed event) is left alone. Returns the new ones."""
    if not clocks:
        return []
    names = ("incident_id", "clock", "tenant", "number", "priority", "tier", "calendar", "target_s", "started_at",
             "due_at", "next_fire_at", "started_tier")  # fmt: skip
    coverage = [json.dumps(c.coverage) for c in clocks]
    warn_text = ["{" + ",".join(map(str, c.warn_at)) + "}" for c in clocks]  # float8[][] would need equal lengths
    rows = await conn.fetch(
        "INSERT INTO sla_clocks (incident_id, clock, tenant, number, priority, tier, calendar, target_s,"
        " started_at, due_at, next_fire_at, started_tier, coverage, warn_at) SELECT i, c, t, n, p, ti, ca, ta, s, d,"
        " nf, st, cv, w::float8[] FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::smallint[], $7::text[], $8::float8[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[],"
        " $12::smallint[], $13::jsonb[], $14::text[]) AS u(i, c, t, n, p, ti, ca, ta, s, d, nf, st, cv, w)"
        " ON CONFLICT DO NOTHING RETURNING incident_id, clock",
        *arrays(clocks, names),
        coverage,
        warn_text,
    )
    return inserted(clocks, ((str(r["incident_id"]), r["clock"]) for r in rows), key=lambda c: (c.incident_id, c.clock))


async def locked(
    conn: asyncpg.Connection, *, incident_id: str, clocks: Sequence[str], stopped: bool = False
) -> list[SlaClock]:
    """The incident's named clocks that run (or, with `stopped`, have stopped: a reopen restarts them), locked
    for update."""
    rows = await conn.fetch(
        f"SELECT {_SELECT} FROM sla_clocks WHERE incident_id = $1 AND clock = ANY($2::text[])"
        f" AND stopped_at IS {'NOT NULL' if stopped else 'NULL'} ORDER BY clock FOR UPDATE",
        incident_id,
        list(clocks),
    )
    return [_read(r) for r in rows]


async def save(conn: asyncpg.Connection, clock: SlaClock) -> None:
    await conn.execute(
        f"UPDATE sla_clocks SET {assignments(_STATE, 3)} WHERE incident_id = $1 AND clock = $2",
        clock.incident_id,
        clock.clock,
        *(getattr(clock, n) for n in _STATE),
    )


async def set_tier(conn: asyncpg.Connection, *, incident_id: str, tier: int) -> None:
    await conn.execute("UPDATE sla_clocks SET tier = $2 WHERE incident_id = $1", incident_id, tier)


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> Claimed[SlaClock] | None:
    """Clocks with a warning or breach due, locked together with their incident's policy run; SKIP LOCKED so
    two replicas never claim the same clock, and so the timer never waits for a lock a handler holds (it
    skips that clock until the next tick instead), which rules out deadlocks between them."""
    cols = ", ".join(f"c.{c}" for c in COLUMNS)
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
    return Claimed(rows[0]["fired_at"], [_read(r) for r in rows]) if rows else None


async def save_fired(conn: asyncpg.Connection, clocks: Sequence[SlaClock]) -> None:
    """The clocks after firing: warnings counted, the breach (never moved once fired), the next point."""
    await conn.executemany(
        "UPDATE sla_clocks SET warned = $3, breached_at = COALESCE(breached_at, $4),"
        " fired_late = COALESCE(fired_late, $5), next_fire_at = $6 WHERE incident_id = $1 AND clock = $2",
        [(c.incident_id, c.clock, c.warned, c.breached_at, c.fired_late, c.next_fire_at) for c in clocks],
    )


async def find(conn: asyncpg.Connection, *, ref: str) -> list[SlaClock]:
    """An incident's clocks, by its id (UUID) or its number (ACME-42)."""
    try:
        key, column = uuid.UUID(ref), "incident_id"
    except ValueError:
        key, column = ref.upper(), "number"
    return [
        _read(r) for r in await conn.fetch(f"SELECT {_SELECT} FROM sla_clocks WHERE {column} = $1 ORDER BY clock", key)
    ]
