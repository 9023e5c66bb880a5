"""The window edges a command moves: starting implementation opens a window not yet open, and finishing or
cancelling ends an open one. Each locks the change's edge rows first (store.window_edges), so a command and
the window timer (workers.py) never both fire an edge."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from libs.events import Envelope
from services.change import store
from services.change.domain.changes import ChangeRequest
from services.change.events import window_event


async def open_now(conn: asyncpg.Connection, change: ChangeRequest, at: datetime, cid: str | None) -> list[Envelope]:
    """Implementation began: the window is open from now if its planned start has not come yet."""
    edges = await store.window_edges(conn, change_id=change.id)
    if "start" in edges and edges["start"] is None:
        await store.mark_fired(conn, change_id=change.id, edges=["start"], at=at)
        return [window_event(change, "start", at, correlation_id=cid)]
    return []


async def close_now(conn: asyncpg.Connection, change: ChangeRequest, at: datetime, cid: str | None) -> list[Envelope]:
    """Implementation ended or the change was cancelled: an open window ends now, one not yet open never will."""
    edges = await store.window_edges(conn, change_id=change.id)
    if edges.get("start") is not None and edges.get("end") is None:
        await store.mark_fired(conn, change_id=change.id, edges=["end"], at=at)
        return [window_event(change, "end", at, correlation_id=cid)]
    await store.drop_window(conn, change_id=change.id)
    return []
