"""Change's SQL for window edges: a scheduled change's start and end as due rows (change_windows), each fired
once, by the window timer (workers.py) or by a command that moves it (api/windows.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.change.domain.changes import ChangeRequest
from services.change.store.changes import FIELDS, change_from
from services.change.store.rows import DueEdge


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


async def claim_due_edges(conn: asyncpg.Connection, *, limit: int) -> list[DueEdge]:
    """Due, unfired window edges with their change, locked; SKIP LOCKED so two replicas never claim the
    same edge. A start sorts before its end when both fell due while the service was down."""
    rows = await conn.fetch(
        f"SELECT w.edge, now() AS fired_at, {', '.join('c.' + f for f in FIELDS)}"
        " FROM change_windows w JOIN changes c ON c.id = w.change_id"
        " WHERE w.fired_at IS NULL AND w.due_at <= now()"
        " ORDER BY w.due_at, w.edge DESC LIMIT $1 FOR UPDATE OF w SKIP LOCKED",
        limit,
    )
    return [DueEdge(edge=r["edge"], change=change_from(r), fired_at=r["fired_at"]) for r in rows]
