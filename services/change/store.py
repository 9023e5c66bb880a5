"""Change's only SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from services.change.domain import ChangeRequest, Step, Vote

_COLUMNS = (
    "id, tenant, number, change_type, ci, title, description, state, requested_by, quorum, created_at, updated_at"
)


def _change(row: asyncpg.Record) -> ChangeRequest:
    data = dict(row)
    data["id"] = str(data["id"])
    return ChangeRequest(**data)


async def allocate_number(conn: asyncpg.Connection, *, tenant: str) -> int:
    """The tenant's next change number; the row lock serialises concurrent creates for one tenant."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO tenant_counters(tenant, last_number) VALUES ($1, 1)"
        " ON CONFLICT (tenant) DO UPDATE SET last_number = tenant_counters.last_number + 1"
        " RETURNING last_number",
        tenant,
    )


async def insert_change(conn: asyncpg.Connection, *, change: ChangeRequest) -> None:
    c = change
    await conn.execute(
        f"INSERT INTO changes ({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        c.id,
        c.tenant,
        c.number,
        c.change_type,
        c.ci,
        c.title,
        c.description,
        c.state,
        c.requested_by,
        c.quorum,
        c.created_at,
        c.updated_at,
    )


async def save_state(conn: asyncpg.Connection, *, change: ChangeRequest) -> None:
    await conn.execute(
        "UPDATE changes SET state = $2, updated_at = $3 WHERE id = $1",
        change.id,
        change.state,
        change.updated_at,
    )


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
    """Only steps that moved the state; votes live in change_votes."""
    rows = [(change_id, s.at, s.from_state, s.to_state, s.by, s.comment) for s in steps if s.moved]
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
    change = _change(row)
    votes = await conn.fetch(
        "SELECT voter, vote, comment, at FROM change_votes WHERE change_id = $1 ORDER BY at, voter", change.id
    )
    change.votes = [Vote(**dict(v)) for v in votes]
    return change


async def timeline(conn: asyncpg.Connection, *, change_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, from_state, to_state, actor, comment FROM change_timeline WHERE change_id = $1 ORDER BY id",
        change_id,
    )
    return [dict(r) for r in rows]


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
    return [_change(r) for r in await conn.fetch(sql, *args)]
