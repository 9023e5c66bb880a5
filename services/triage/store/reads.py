"""Triage's SQL, the read side: incidents, their details, suppressed alerts and provider incidents for the API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.triage.domain.incident import OPEN_STATES, Incident
from services.triage.store.writes import _COLUMNS, _incident


async def provider_incident(
    conn: asyncpg.Connection, *, ref: str, lock: bool = False
) -> tuple[dict[str, Any], list[Incident]] | None:
    """A provider incident by id or PRV-n and its children in the order they opened; `lock`: the children
    row-locked in id order, as every batch locks incidents (the parent row is locked later, when settled, as
    everywhere else: incidents first, then their parent, so nothing deadlocks)."""
    try:
        key, clause = uuid.UUID(ref), "id = $1"
    except ValueError:
        key, clause = ref.upper(), "number = $1"
    row = await conn.fetchrow(f"SELECT * FROM provider_incidents WHERE {clause}", key)
    if row is None:
        return None
    order = "id FOR UPDATE" if lock else "opened_at"
    kids = [_incident(r) for r in await conn.fetch(
        f"SELECT {_COLUMNS} FROM incidents WHERE parent_id = $1 ORDER BY {order}", row["id"]
    )]  # fmt: skip
    return dict(row), sorted(kids, key=lambda i: (i.opened_at, i.seq, i.number))


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
        "SELECT alert_id, dedup_key, status, severity, summary, received_at, effect, note, sanitized"
        " FROM incident_alerts WHERE incident_id = $1 ORDER BY received_at, alert_id LIMIT 200",
        incident_id,
    )
    return [dict(r) | {"detail": json.loads(r["detail"])} for r in timeline], [
        dict(r) | {"sanitized": json.loads(r["sanitized"]) if r["sanitized"] else []} for r in alerts
    ]


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


# The list's orders: each a direction and its key, the number's numeric part then the number itself last, so
# every order is total (a keyset cursor needs that) and incidents opened together list ACME-9, -8, -7, -6.
# A key part: (SQL expression, cursor value's cast, the value on an incident).
KeyPart = tuple[str, str, Callable[[Incident], Any]]
_BY_NUMBER: list[KeyPart] = [("seq", "int", lambda i: i.seq), ("number", "text", lambda i: i.number)]
SORTS: dict[str, tuple[str, list[KeyPart]]] = {
    "opened": ("DESC", [("opened_at", "text::timestamptz", lambda i: i.opened_at.isoformat()), *_BY_NUMBER]),
    "priority": ("ASC", [("priority", "text", lambda i: i.priority), *_BY_NUMBER]),
    "due": ("ASC", [("coalesce(due_at, 'infinity')", "text::timestamptz",
                     lambda i: i.due_at.isoformat() if i.due_at else "infinity"), *_BY_NUMBER]),  # none last
    "number": ("ASC", _BY_NUMBER),
}  # fmt: skip


def sort_key(sort: str, i: Incident) -> list[Any]:
    """The incident's place in `sort`: what a cursor carries."""
    return [get(i) for _, _, get in SORTS[sort][1]]


def valid_key(sort: str, key: list[Any]) -> bool:
    """A cursor's key fits `sort` (so no malformed value ever reaches PostgreSQL)."""
    parts = SORTS[sort][1]
    if len(key) != len(parts):
        return False
    for (_, cast, _), value in zip(parts, key, strict=True):
        if cast == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
            return False
        if cast != "int" and not isinstance(value, str):
            return False
        if cast.endswith("timestamptz") and value != "infinity":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return False
    return True


async def list_incidents(
    conn: asyncpg.Connection,
    *,
    tenants: Sequence[str] | None,
    filters: dict[str, Any],
    sort: str,
    after: list[Any] | None,
    limit: int,
) -> list[Incident]:
    """In `sort` order (SORTS), keyset-paginated: `after` is the last key of the previous page.
    `filters`: column -> value (None: IS NULL)."""
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
    direction, parts = SORTS[sort]
    if after:
        row = ", ".join(expr for expr, _, _ in parts)
        values = ", ".join(f"{arg(v)}::{cast}" for (_, cast, _), v in zip(parts, after, strict=True))
        where.append(f"({row}) {'<' if direction == 'DESC' else '>'} ({values})")
    sql = f"SELECT {_COLUMNS} FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + ", ".join(f"{expr} {direction}" for expr, _, _ in parts) + f" LIMIT {arg(limit)}"
    return [_incident(r) for r in await conn.fetch(sql, *args)]
