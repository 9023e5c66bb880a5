"""SQL of `schedule_overrides`: one person on call over a schedule's layers for a time range; a removed one
keeps its row (who removed it, when)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.escalation.domain.schedules import Override


@dataclass(frozen=True, kw_only=True)
class OverrideRow:
    """An override as stored and listed."""

    id: str
    schedule: str
    tenant: str | None
    user: str
    start: datetime
    end: datetime
    note: str | None
    created_by: str
    created_at: datetime
    removed_by: str | None = None
    removed_at: datetime | None = None

    @property
    def override(self) -> Override:
        return Override(id=self.id, user=self.user, start=self.start, end=self.end, created_at=self.created_at)


_SELECT = (
    'SELECT id::text, schedule, tenant, "user", start_at AS start, end_at AS "end", note, created_by, created_at,'
    " removed_by, removed_at FROM schedule_overrides"
)


def _read(row: asyncpg.Record) -> OverrideRow:
    return OverrideRow(**dict(row))


async def add(conn: asyncpg.Connection, row: OverrideRow) -> None:
    await conn.execute(
        'INSERT INTO schedule_overrides (id, schedule, tenant, "user", start_at, end_at, note, created_by, created_at)'
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        uuid.UUID(row.id), row.schedule, row.tenant, row.user, row.start, row.end, row.note, row.created_by,
        row.created_at,
    )  # fmt: skip


async def live(conn: asyncpg.Connection, *, schedules: Sequence[str], ending_after: datetime) -> list[OverrideRow]:
    """The overrides of these schedules not removed and still running after `ending_after`, oldest first."""
    if not schedules:
        return []
    rows = await conn.fetch(
        f"{_SELECT} WHERE schedule = ANY($1::text[]) AND removed_at IS NULL AND end_at > $2 ORDER BY created_at, id",
        sorted(set(schedules)),
        ending_after,
    )
    return [_read(r) for r in rows]


async def by_schedule(
    conn: asyncpg.Connection, *, schedules: Sequence[str], ending_after: datetime
) -> dict[str, list[Override]]:
    """`live` as the schedule maths takes it: each schedule's overrides."""
    found: dict[str, list[Override]] = {s: [] for s in schedules}
    for row in await live(conn, schedules=schedules, ending_after=ending_after):
        found[row.schedule].append(row.override)
    return found


async def remove(
    conn: asyncpg.Connection, *, schedule: str, override_id: str, by: str, at: datetime
) -> OverrideRow | None:
    """Mark one live override removed; None when there is no such live override on this schedule."""
    try:
        oid = uuid.UUID(override_id)
    except ValueError:
        return None
    row = await conn.fetchrow(
        "UPDATE schedule_overrides SET removed_by = $3, removed_at = $4 WHERE id = $1 AND schedule = $2"
        ' AND removed_at IS NULL RETURNING id::text, schedule, tenant, "user", start_at AS start, end_at AS "end",'
        " note, created_by, created_at, removed_by, removed_at",
        oid,
        schedule,
        by,
        at,
    )
    return _read(row) if row else None
