"""Change's SQL for suspected-cause links: incidents opened on a CI while (or soon after) a change to it was
implemented."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import asyncpg

from services.change.domain.changes import ChangeRequest, IncidentLink
from services.change.store.changes import FIELDS, change_from
from services.change.store.rows import Probe, probe_columns

_LINK_FIELDS = [f.name for f in fields(IncidentLink)]
_LINK_COLUMNS = ", ".join(_LINK_FIELDS)


async def links(conn: asyncpg.Connection, *, change_id: str) -> list[IncidentLink]:
    rows = await conn.fetch(
        f"SELECT {_LINK_COLUMNS} FROM change_incidents WHERE change_id = $1 ORDER BY opened_at, incident_id",
        change_id,
    )
    return [IncidentLink(**dict(r)) for r in rows]


async def suspects(conn: asyncpg.Connection, *, probes: Sequence[Probe]) -> list[list[ChangeRequest]]:
    """For each probe of a batch of new incidents, in one query: the changes on its CI whose implementation had
    started when the incident opened and had not ended more than the window before it (still running, ended
    since, or ended within it). One list per probe, in the probes' order."""
    found: list[list[ChangeRequest]] = [[] for _ in probes]
    if not probes:
        return found
    cols = ", ".join(f"c.{f}" for f in FIELDS)
    rows = await conn.fetch(
        f"SELECT p.idx, {cols} FROM changes c JOIN unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[])"
        " WITH ORDINALITY AS p(tenant, ci, opened_at, window_s, idx) ON c.tenant = p.tenant AND p.ci = ANY(c.cis)"
        " AND c.started_at <= p.opened_at"
        " AND (c.ended_at IS NULL OR c.ended_at >= p.opened_at - make_interval(secs => p.window_s))"
        " ORDER BY p.idx, c.number FOR UPDATE OF c",
        *probe_columns(probes),
    )
    for r in rows:
        found[int(r["idx"]) - 1].append(change_from(r))
    return found


async def add_link(conn: asyncpg.Connection, *, change_id: str, link: IncidentLink) -> bool:
    """False when this incident was already linked to this change (a replay)."""
    status = await conn.execute(
        f"INSERT INTO change_incidents (change_id, {_LINK_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT DO NOTHING",
        change_id,
        *[getattr(link, f) for f in _LINK_FIELDS],
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
