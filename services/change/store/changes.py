"""Change's SQL for managed changes: the workflow, votes, timeline, incident links and window edges."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from libs.db import columns
from services.change.domain.changes import ChangeRequest, IncidentLink, Step, Vote
from services.change.store.unmanaged import unmanaged_in

_FIELDS = (
    "id tenant number change_type ci title description state requested_by quorum created_at updated_at cis template"
    " risk impact planned_start planned_end implementer rollback_plan rollback result outcome started_at ended_at"
    " overrides"
).split()
_COLUMNS = ", ".join(_FIELDS)
Probe = tuple[str, str, datetime, float]  # a new incident's tenant, CI, opened_at and link window in seconds
_MUTABLE = [f for f in _FIELDS if f not in ("id", "tenant", "number", "change_type", "requested_by", "created_at")]
_LINK_COLUMNS = "incident_id, incident_number, priority, ci, opened_at, linked_at, cleared_at, cleared_by, clear_reason"


def _change(row: asyncpg.Record) -> ChangeRequest:
    data = {f: row[f] for f in _FIELDS}  # a row may carry more (a probe index)
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
    params = ", ".join(f"${i}" for i in range(1, len(_FIELDS) + 1))
    await conn.execute(f"INSERT INTO changes ({_COLUMNS}) VALUES ({params})", *_values(change, _FIELDS))


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
    return [_change(r) for r in rows]


async def calendar(
    conn: asyncpg.Connection, *, tenants: Sequence[str] | None, start: datetime, end: datetime, limit: int
) -> tuple[list[ChangeRequest], list[dict[str, Any]]]:
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
    return [_change(r) for r in managed], await unmanaged_in(conn, scope=scope, args=args)


async def links(conn: asyncpg.Connection, *, change_id: str) -> list[IncidentLink]:
    rows = await conn.fetch(
        f"SELECT {_LINK_COLUMNS} FROM change_incidents WHERE change_id = $1 ORDER BY opened_at, incident_id",
        change_id,
    )
    return [IncidentLink(**dict(r)) for r in rows]


async def suspects(conn: asyncpg.Connection, *, probes: Sequence[Probe]) -> list[tuple[int, ChangeRequest]]:
    """For each probe (tenant, ci, opened_at, window seconds) of a batch of new incidents, in one query: the
    changes on that CI whose implementation had started when the incident opened and had not ended more than
    the window before it (still running, ended since, or ended within it), as (probe index, change)."""
    if not probes:
        return []
    cols = ", ".join(f"c.{f}" for f in _FIELDS)
    rows = await conn.fetch(
        f"SELECT p.idx, {cols} FROM changes c JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[])"
        " WITH ORDINALITY AS p(tenant, ci, opened_at, window_s, idx) ON c.tenant = p.tenant AND p.ci = ANY(c.cis)"
        " AND c.started_at <= p.opened_at"
        " AND (c.ended_at IS NULL OR c.ended_at >= p.opened_at - make_interval(secs => p.window_s))"
        " ORDER BY p.idx, c.number FOR UPDATE OF c",
        *columns(probes),
    )
    return [(int(r["idx"]) - 1, _change(r)) for r in rows]


async def add_link(conn: asyncpg.Connection, *, change_id: str, link: IncidentLink) -> bool:
    """False when this incident was already linked to this change (a replay)."""
    status = await conn.execute(
        f"INSERT INTO change_incidents (change_id, {_LINK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT DO NOTHING",
        change_id,
        *[getattr(link, f) for f in _LINK_COLUMNS.split(", ")],
    )
    return status.endswith(" 1")


async def clear_link(conn: asyncpg.Connection, *, change_id: str, link: IncidentLink) -> None:
    await conn.execute(
        "UPDATE change_incidents SET cleared_at = $3, cleared_by = $4, clear_reason = $5"
        " WHERE change_id = $1 AND incident_id = $2",
        change_id,
        link.incident_id,
        link.cleared_at,
        link.cleared_by,
        link.clear_reason,
    )


async def book_window(conn: asyncpg.Connection, *, change: ChangeRequest) -> None:
    """The window's edges as due rows; a reschedule (before the window opened) moves them."""
    await conn.executemany(
        "INSERT INTO change_windows (change_id, edge, due_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (change_id, edge) DO UPDATE SET due_at = EXCLUDED.due_at, fired_at = NULL",
        [(change.id, "start", change.planned_start), (change.id, "end", change.planned_end)],
    )


async def window_edges(conn: asyncpg.Connection, *, change_id: str) -> dict[str, datetime | None]:
    """edge -> fired_at, locked (waits for a timer firing them right now)."""
    rows = await conn.fetch(
        "SELECT edge, fired_at FROM change_windows WHERE change_id = $1 ORDER BY edge FOR UPDATE", change_id
    )
    return {r["edge"]: r["fired_at"] for r in rows}


async def mark_fired(conn: asyncpg.Connection, *, change_id: str, edges: Sequence[str], at: datetime) -> None:
    await conn.execute(
        "UPDATE change_windows SET fired_at = $3 WHERE change_id = $1 AND edge = ANY($2::text[])",
        change_id,
        list(edges),
        at,
    )


async def drop_window(conn: asyncpg.Connection, *, change_id: str) -> None:
    await conn.execute("DELETE FROM change_windows WHERE change_id = $1 AND fired_at IS NULL", change_id)


async def claim_due_edges(conn: asyncpg.Connection, *, limit: int) -> list[tuple[str, ChangeRequest, datetime]]:
    """Due, unfired window edges with their change, locked; SKIP LOCKED so two replicas never claim the
    same edge. A start sorts before its end when both fell due while the service was down."""
    rows = await conn.fetch(
        f"SELECT w.edge, now() AS fired_at, {', '.join('c.' + f for f in _FIELDS)}"
        " FROM change_windows w JOIN changes c ON c.id = w.change_id"
        " WHERE w.fired_at IS NULL AND w.due_at <= now()"
        " ORDER BY w.due_at, w.edge DESC LIMIT $1 FOR UPDATE OF w SKIP LOCKED",
        limit,
    )
    out = []
    for r in rows:
        data = dict(r)
        edge, fired_at = data.pop("edge"), data.pop("fired_at")
        out.append((edge, _change(data), fired_at))  # type: ignore[arg-type]
    return out
