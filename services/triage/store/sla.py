"""Triage's SQL for its copy of the SLA clocks (services/triage/sla.py): a batch's incidents read and locked
in one statement, their clocks, deadlines, flags and timeline entries written in one more."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from libs.db import columns


@dataclass
class SlaRow:
    id: str
    tenant: str
    sla: dict[str, dict[str, Any]]
    at_risk: bool = False  # set by this batch: a warning fired
    breached: bool = False  # set by this batch: a clock breached
    timeline: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def lock_sla(conn: asyncpg.Connection, *, incident_ids: Sequence[str]) -> dict[str, SlaRow]:
    """The incidents' clocks, row-locked in id order (as every batch locks incidents, so none deadlock)."""
    ids = sorted({u for i in incident_ids if (u := _uuid(i))})
    rows = await conn.fetch(
        "SELECT id, tenant, sla FROM incidents WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", ids
    )
    return {str(r["id"]): SlaRow(str(r["id"]), r["tenant"], json.loads(r["sla"])) for r in rows}


async def save_sla(conn: asyncpg.Connection, *, rows: Sequence[SlaRow], due: dict[str, datetime | None]) -> None:
    """Each incident's clocks and deadline (`due`, by id); the warning and breach flags only ever turn on."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: r.id)
    inc = columns([(r.id, json.dumps(r.sla), due[r.id], r.at_risk, r.breached) for r in ordered], 5)
    tl = columns([(r.id, at, kind, "escalation", json.dumps(d)) for r in ordered for at, kind, d in r.timeline], 5)
    await conn.execute(
        "WITH u AS (UPDATE incidents i SET sla = r.sla, due_at = r.due_at, at_risk = i.at_risk OR r.at_risk,"
        " breached = i.breached OR r.breached"
        " FROM unnest($1::uuid[], $2::jsonb[], $3::timestamptz[], $4::bool[], $5::bool[])"
        " AS r(id, sla, due_at, at_risk, breached) WHERE i.id = r.id RETURNING 1)"
        " INSERT INTO timeline (incident_id, at, kind, actor, detail)"
        " SELECT * FROM unnest($6::uuid[], $7::timestamptz[], $8::text[], $9::text[], $10::jsonb[])",
        *inc,
        *tl,
    )
