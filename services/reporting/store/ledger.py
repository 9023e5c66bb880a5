"""Reporting's SQL for writing: append to the ledger (and the live incident figures), read those figures, and
rebuild the ledger."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.reporting.domain.ledger import LedgerEntry

LEDGER_TABLES = ("ledger", "ledger_rebuild")
COLUMNS = "event_id, tenant, type, subject, occurred_at, correlation_id, data, recorded_at"
REBUILD_LOCK = 0x7265_6275_696C_64  # advisory lock key: one rebuild at a time


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """An incident's first acknowledgement, recorded now: what the time-to-acknowledge histogram observes."""

    tenant: str
    priority: str
    seconds: float  # from open


@dataclass(frozen=True, slots=True)
class OpenIncidents:
    tenant: str
    priority: str
    tier: int
    count: int


@dataclass(frozen=True, slots=True)
class MonthBreaches:
    tenant: str
    clock: str
    count: int  # (incident, clock) pairs breached this month


@dataclass(frozen=True, slots=True)
class LiveFigures:
    open: list[OpenIncidents]
    breaches: list[MonthBreaches]


async def append(conn: asyncpg.Connection, *, entries: Sequence[LedgerEntry], table: str = "ledger") -> int:
    """Insert entries not yet in the ledger, in the given order; returns how many were new."""
    return len(await append_new(conn, entries=entries, table=table))


async def append_new(conn: asyncpg.Connection, *, entries: Sequence[LedgerEntry], table: str = "ledger") -> set[str]:
    """Insert entries not yet in the ledger, in the given order, in one statement; returns the new ids."""
    assert table in LEDGER_TABLES
    if not entries:
        return set()
    found = await conn.fetch(
        f"INSERT INTO {table}(event_id, tenant, type, subject, occurred_at, correlation_id, data)"
        " SELECT e, t, ty, s, o, c, d::jsonb"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],"
        " $7::text[]) AS u(e, t, ty, s, o, c, d)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        [e.event_id for e in entries],
        [e.tenant for e in entries],
        [e.type for e in entries],
        [e.subject for e in entries],
        [e.occurred_at for e in entries],
        [e.correlation_id for e in entries],
        [json.dumps(e.data) for e in entries],
    )
    return {r["event_id"] for r in found}


async def apply_live(conn: asyncpg.Connection, *, entries: Sequence[LedgerEntry]) -> list[Acknowledgement]:
    """Keep live_incidents up to date from newly recorded incident events (one statement per kind present);
    returns the first acknowledgements among them."""

    def of(kind: str, *fields: str) -> list[list[Any]]:
        picked = [e for e in entries if e.type == kind]
        return [[e.tenant for e in picked], *[[e.data.get(f) for e in picked] for f in fields]]

    opened = of("incident.opened", "incident_id", "priority", "tier", "opened_at")
    if opened[0]:
        await conn.execute(
            "INSERT INTO live_incidents (tenant, incident_id, priority, tier, opened_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[])"
            " ON CONFLICT DO NOTHING",
            *opened[:4],
            [datetime.fromisoformat(v) for v in opened[4]],
        )
    for kind, column, field in (
        ("incident.escalated", "tier", "to_tier"),
        ("incident.priority_changed", "priority", "to_priority"),
    ):
        _, ids, values = of(kind, "incident_id", field)
        if ids:
            cast = "int" if column == "tier" else "text"
            await conn.execute(
                f"UPDATE live_incidents l SET {column} = u.v FROM unnest($1::text[], $2::{cast}[]) u(id, v)"
                " WHERE l.incident_id = u.id",
                ids,
                values,
            )
    _, ids, ats = of("incident.acknowledged", "incident_id", "at")
    acks = []
    if ids:
        acks = await conn.fetch(
            "UPDATE live_incidents l SET acknowledged_at = u.at FROM unnest($1::text[], $2::timestamptz[]) u(id, at)"
            " WHERE l.incident_id = u.id AND l.acknowledged_at IS NULL"
            " RETURNING l.tenant, l.priority, extract(epoch FROM u.at - l.opened_at)::float8 AS s",
            ids,
            [datetime.fromisoformat(a) for a in ats],
        )
    for kind, state in (
        ("incident.resolved", "resolved"),
        ("incident.reopened", "open"),
        ("incident.closed", "closed"),
    ):
        _, ids = of(kind, "incident_id")
        if ids:
            await conn.execute("UPDATE live_incidents SET state = $2 WHERE incident_id = ANY($1::text[])", ids, state)
    return [Acknowledgement(tenant=r["tenant"], priority=r["priority"], seconds=r["s"]) for r in acks]


async def live_figures(conn: asyncpg.Connection, *, month_start: datetime) -> LiveFigures:
    """Open incidents by tenant, priority and tier; this month's breaches by tenant and clock."""
    open_ = await conn.fetch(
        "SELECT tenant, priority, tier, count(*) AS n FROM live_incidents WHERE state = 'open'"
        " GROUP BY tenant, priority, tier"
    )
    breaches = await conn.fetch(
        "SELECT tenant, data->>'clock' AS clock, count(DISTINCT (data->>'incident_id', data->>'clock')) AS n"
        " FROM ledger WHERE type = 'sla.breached' AND occurred_at >= $1 GROUP BY tenant, data->>'clock'",
        month_start,
    )
    return LiveFigures(
        open=[OpenIncidents(tenant=r["tenant"], priority=r["priority"], tier=r["tier"], count=r["n"]) for r in open_],
        breaches=[MonthBreaches(tenant=r["tenant"], clock=r["clock"], count=r["n"]) for r in breaches],
    )


class RebuildRunning(RuntimeError):
    pass


async def start_rebuild(conn: asyncpg.Connection) -> None:
    """An empty ledger_rebuild shaped like the ledger; refuses while another rebuild holds the lock."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", REBUILD_LOCK):
        raise RebuildRunning("another ledger rebuild is running")
    await conn.execute(
        "DROP TABLE IF EXISTS ledger_rebuild;"
        " CREATE TABLE ledger_rebuild (LIKE ledger INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    )


async def finish_rebuild(conn: asyncpg.Connection) -> tuple[int, int]:
    """Swap the replayed rows in, in one transaction; returns (rows carried over, ledger rows).

    The ledger keeps its identity (indexes, sequence, grants): it is emptied and refilled in time order.
    """
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE")  # live inserts wait; reads go on
            status = await conn.execute(
                f"INSERT INTO ledger_rebuild ({COLUMNS}) SELECT {COLUMNS} FROM ledger ON CONFLICT (event_id) DO NOTHING"
            )
            carried = int(status.rsplit(" ", 1)[-1])
            await conn.execute("TRUNCATE ledger")
            await conn.execute(
                f"INSERT INTO ledger ({COLUMNS}) SELECT {COLUMNS} FROM ledger_rebuild ORDER BY occurred_at, event_id"
            )
            await conn.execute("DROP TABLE ledger_rebuild")
            total = await conn.fetchval("SELECT count(*) FROM ledger")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", REBUILD_LOCK)
    return carried, int(total)
