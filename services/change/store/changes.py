"""Change's SQL for managed changes: the change itself, its votes and timeline, the schedule and the calendar
(its incident links are in links.py, its window edges in windows.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.change.domain.changes import ChangeRequest, Step, Vote
from services.change.store.rows import TimelineEntry, UnmanagedOnCalendar
from services.change.store.unmanaged import unmanaged_in

# The columns of `changes`, which are the fields of ChangeRequest (its votes apart).
FIELDS = (
    "id tenant number change_type ci title description state requested_by quorum created_at updated_at cis template"
    " risk impact planned_start planned_end implementer rollback_plan rollback result outcome started_at ended_at"
    " overrides"
).split()
_COLUMNS = ", ".join(FIELDS)
_MUTABLE = [f for f in FIELDS if f not in ("id", "tenant", "number", "change_type", "requested_by", "created_at")]


def change_from(row: asyncpg.Record) -> ChangeRequest:
    data = {f: row[f] for f in FIELDS}  # a row may carry more (a probe index, a window edge)
    data["id"] = str(data["id"])
    data["overrides"] = json.loads(data["overrides"])
    return ChangeRequest(**data)


def _values(change: ChangeRequest, fields: Sequence[str]) -> list[Any]:
    return [json.dumps(change.overrides) if f == "overrides" else getattr(change, f) for f in fields]


async def allocate_number(conn: asyncpg.Connection, *, tenant: str) -> int:
    """The tenant's next change number; the row lock serialises concurrent creates for one tenant."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO tenant_counters(tenant, last_number) VALUES ($1, 1)"
        " ON CONFLICT (tenant) DO UPDATE SET last_number = tenant_counters.last_number + 1"
        " RETURNING last_number",
        tenant,
    )


async def insert_change(conn: asyncpg.Connection, *, change: ChangeRequest) -> None:
    params = ", ".join(f"${i}" for i in range(1, len(FIELDS) + 1))
    await conn.execute(f"INSERT INTO changes ({_COLUMNS}) VALUES ({params})", *_values(change, FIELDS))


async def save_change(conn: asyncpg.Connection, *, change: ChangeRequest) -> None:
    sets = ", ".join(f"{f} = ${i}" for i, f in enumerate(_MUTABLE, start=2))
    await conn.execute(f"UPDATE changes SET {sets} WHERE id = $1", change.id, *_values(change, _MUTABLE))


async def add_vote(conn: asyncpg.Connection, *, change_id: str, vote: Vote) -> None:
    await conn.execute(
        "INSERT INTO change_votes(change_id, voter, vote, comment, at) VALUES ($1,$2,$3,$4,$5)",
        change_id,
        vote.voter,
        vote.vote,
        vote.comment,
        vote.at,
    )


async def add_timeline(conn: asyncpg.Connection, *, change_id: str, steps: Sequence[Step]) -> None:
    """Every move (a reschedule too); votes live in change_votes."""
    rows = [(change_id, s.at, s.from_state, s.to_state, s.by, s.comment) for s in steps if s.on_timeline]
    if rows:
        await conn.executemany(
            "INSERT INTO change_timeline(change_id, at, from_state, to_state, actor, comment)"
            " VALUES ($1,$2,$3,$4,$5,$6)",
            rows,
        )


async def get_change(conn: asyncpg.Connection, *, ref: str, lock: bool = False) -> ChangeRequest | None:
    """By id (uuid) or per-tenant number (ACME-CHG-3), with its votes."""
    try:
        key: Any = uuid.UUID(ref)
        clause = "id = $1"
    except ValueError:
        key, clause = ref.upper(), "number = $1"
    sql = f"SELECT {_COLUMNS} FROM changes WHERE {clause}" + (" FOR UPDATE" if lock else "")
    row = await conn.fetchrow(sql, key)
    if row is None:
        return None
    change = change_from(row)
    votes = await conn.fetch(
        "SELECT voter, vote, comment, at FROM change_votes WHERE change_id = $1 ORDER BY at, voter", change.id
    )
    change.votes = [Vote(**dict(v)) for v in votes]
    return change


async def timeline(conn: asyncpg.Connection, *, change_id: str) -> list[TimelineEntry]:
    rows = await conn.fetch(
        "SELECT at, from_state, to_state, actor, comment FROM change_timeline WHERE change_id = $1 ORDER BY id",
        change_id,
    )
    return [TimelineEntry(**r) for r in rows]


async def list_changes(
    conn: asyncpg.Connection, *, tenants: Sequence[str] | None, state: str | None, limit: int
) -> list[ChangeRequest]:
    """Newest first; votes are not loaded (the detail view has them)."""
    where, args = [], []
    if tenants is not None:
        args.append(list(tenants))
        where.append(f"tenant = ANY(${len(args)}::text[])")
    if state:
        args.append(state)
        where.append(f"state = ${len(args)}")
    sql = f"SELECT {_COLUMNS} FROM changes"
    if where:
        sql += " WHERE " + " AND ".join(where)
    args.append(limit)
    sql += f" ORDER BY created_at DESC, id DESC LIMIT ${len(args)}"
    return [change_from(r) for r in await conn.fetch(sql, *args)]


async def lock_schedule(conn: asyncpg.Connection, *, tenant: str) -> None:
    """Serialise scheduling within a tenant until commit, so two changes booked at the same moment still see
    each other in the conflict check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tierline-change-schedule:' || $1))", tenant)


async def booked_overlapping(
    conn: asyncpg.Connection, *, tenant: str, start: datetime, end: datetime, states: Sequence[str]
) -> list[ChangeRequest]:
    """The tenant's changes in `states` whose planned window overlaps [start, end)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM changes WHERE tenant = $1 AND state = ANY($2::text[])"
        " AND planned_start < $4 AND planned_end > $3 ORDER BY planned_start, number",
        tenant,
        list(states),
        start,
        end,
    )
    return [change_from(r) for r in rows]


async def calendar(
    conn: asyncpg.Connection, *, tenants: Sequence[str] | None, start: datetime, end: datetime, limit: int
) -> tuple[list[ChangeRequest], list[UnmanagedOnCalendar]]:
    """Changes whose planned window or actual implementation (started, and ended or still running) overlaps
    [start, end), and unmanaged changes reported in it."""
    scope = "AND tenant = ANY($3::text[])" if tenants is not None else "AND $3::text[] IS NULL"
    args = [start, end, list(tenants) if tenants is not None else None, limit]
    managed = await conn.fetch(
        f"SELECT {_COLUMNS} FROM changes WHERE ((planned_start < $2 AND planned_end > $1)"
        f" OR (started_at < $2 AND coalesce(ended_at, now()) > $1)) {scope}"
        " ORDER BY planned_start, number LIMIT $4",
        *args,
    )
    return [change_from(r) for r in managed], await unmanaged_in(conn, scope=scope, args=args)
