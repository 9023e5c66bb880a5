"""SQL of `escalation_runs`: one row per incident, where its escalation policy stands, as EscalationRun."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from functools import lru_cache

import asyncpg

from libs.calendar import calendar_from_json
from services.escalation.domain.run import EscalationRun, PolicyStep
from services.escalation.store import Claimed, arrays, assignments, inserted, snapshot

COLUMNS = tuple(f.name for f in fields(EscalationRun) if f.name != "cal")
_STATE = ("priority", "step", "round", "tier", "step_started_at", "step_due_at", "state", "on_call", "handoff_at")


def _read(row: asyncpg.Record) -> EscalationRun:
    values = dict(row)
    values.pop("fired_at", None)  # a claim's time, not the run's
    coverage = values["coverage"]  # jsonb text: its calendar is cached by it
    values.update(incident_id=str(row["incident_id"]), coverage=snapshot(coverage), sla=snapshot(row["sla"]))
    values["on_call"] = json.loads(row["on_call"])
    values["steps"] = _steps(row["steps"])
    return EscalationRun(**values, cal=calendar_from_json(coverage))


@lru_cache(maxsize=1024)
def _steps(text: str) -> tuple[PolicyStep, ...]:
    return tuple(PolicyStep(**s | {"notify": tuple(s["notify"])}) for s in json.loads(text))


async def start(conn: asyncpg.Connection, runs: Sequence[EscalationRun]) -> list[EscalationRun]:
    """Insert policy runs; returns those started now (a replay starts none)."""
    if not runs:
        return []
    names = ("incident_id", "tenant", "number", "title", "priority", "category", "policy", "repeat", "step", "round",
             "tier", "step_started_at", "step_due_at", "state", "handoff_at")  # fmt: skip
    rows = await conn.fetch(
        f"INSERT INTO escalation_runs ({', '.join(names)}, steps, coverage, sla, on_call) SELECT * FROM"
        " unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[],"
        " $9::smallint[], $10::smallint[], $11::smallint[], $12::timestamptz[], $13::timestamptz[], $14::text[],"
        " $15::timestamptz[], $16::jsonb[], $17::jsonb[], $18::jsonb[], $19::jsonb[])"
        " ON CONFLICT DO NOTHING RETURNING incident_id",
        *arrays(runs, names),
        [json.dumps([s.snapshot() for s in r.steps]) for r in runs],
        [json.dumps(r.coverage) for r in runs],
        [json.dumps(r.sla) for r in runs],
        [json.dumps(r.on_call) for r in runs],
    )
    return inserted(runs, (str(r["incident_id"]) for r in rows), key=lambda r: r.incident_id)


async def find(conn: asyncpg.Connection, *, incident_ids: Sequence[str], lock: bool = False) -> list[EscalationRun]:
    ids = sorted(set(incident_ids))  # one lock order, so concurrent transactions cannot deadlock
    rows = await conn.fetch(
        "SELECT * FROM escalation_runs WHERE incident_id = ANY($1::uuid[]) ORDER BY incident_id"
        + (" FOR UPDATE" if lock else ""),
        ids,
    )
    return [_read(r) for r in rows]


async def save(conn: asyncpg.Connection, run: EscalationRun) -> None:
    await conn.execute(
        f"UPDATE escalation_runs SET {assignments(_STATE, 2)} WHERE incident_id = $1",
        run.incident_id,
        *(json.dumps(run.on_call) if n == "on_call" else getattr(run, n) for n in _STATE),
    )


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> Claimed[EscalationRun] | None:
    rows = await conn.fetch(
        "SELECT *, now() AS fired_at FROM escalation_runs WHERE step_due_at <= now()"
        " ORDER BY step_due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return Claimed(rows[0]["fired_at"], [_read(r) for r in rows]) if rows else None


async def claim_handoffs(conn: asyncpg.Connection, *, limit: int) -> Claimed[EscalationRun] | None:
    """Unacknowledged runs whose paged schedules hand over now; SKIP LOCKED, like the step timer's claim."""
    rows = await conn.fetch(
        "SELECT *, now() AS fired_at FROM escalation_runs WHERE handoff_at <= now()"
        " AND state IN ('running', 'exhausted') ORDER BY handoff_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return Claimed(rows[0]["fired_at"], [_read(r) for r in rows]) if rows else None


async def watching(conn: asyncpg.Connection, *, schedule: str) -> int:
    """An override changed `schedule`: every unacknowledged run paging it looks again at once (the handoff
    worker pages whoever is on call now, if that changed). Returns how many."""
    status = await conn.execute(
        "UPDATE escalation_runs SET handoff_at = now() WHERE on_call ? $1 AND state IN ('running', 'exhausted')",
        schedule,
    )
    return int(status.rsplit(" ", 1)[-1])
