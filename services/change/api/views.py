"""How the API shows a change: its list row, and its detail with votes, timeline, links and what it waits for."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import asyncpg

from libs.config import Tenant
from services.change import store
from services.change.domain.approvals import awaiting, board_for
from services.change.domain.changes import ChangeRequest


def change_json(c: ChangeRequest) -> dict[str, Any]:
    data = asdict(c)
    data.pop("votes")
    return data


async def detail_json(conn: asyncpg.Connection, c: ChangeRequest, tenant: Tenant | None) -> dict[str, Any]:
    """The detail view: votes, timeline, linked incidents, what it waits for, and the moves open to it."""
    links = await store.links(conn, change_id=c.id)
    data = change_json(c) | {
        "approvals": c.approvals,
        "votes": [asdict(v) for v in c.votes],
        "timeline": [asdict(t) for t in await store.timeline(conn, change_id=c.id)],
        "incidents": [asdict(link) | {"counts_as_failed": link.counts_as_failed} for link in links],
        "allowed_actions": c.lifecycle.allowed(c.state),
    }
    if tenant and "approve" in c.lifecycle.allowed(c.state):
        data["awaiting"] = awaiting(c, board_for(tenant, c))
    return data
