"""Triage's SQL for change windows (its copy of the windows in progress) and the alerts they hold: suppressed
alerts still firing, triaged again when their window ends (services/triage/workers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from libs.contracts import ChangeWindow
from libs.db import fields_as_columns
from services.triage.store.rows import HeldAlert, Released

_RELEASED = [("alert_id", "text"), ("incident_id", "uuid"), ("effect", "text"), ("note", "text")]


async def window_started(conn: asyncpg.Connection, *, tenant: str, w: ChangeWindow) -> None:
    await conn.execute(
        "INSERT INTO change_windows (tenant, change_id, number, title, cis, starts_at, ends_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, change_id) DO UPDATE SET cis = EXCLUDED.cis,"
        " starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, ended_at = NULL",
        tenant, w.change_id, w.number, w.title, list(w.cis), w.starts_at, w.ends_at,
    )  # fmt: skip


async def window_ended(conn: asyncpg.Connection, *, tenant: str, change_id: str, at: datetime) -> None:
    """The window ended (perhaps before its planned end): the alerts it held fall due for release then."""
    await conn.execute(
        "WITH w AS (UPDATE change_windows SET ended_at = $3 WHERE tenant = $1 AND change_id = $2 RETURNING number)"
        " UPDATE held_alerts SET held_until = LEAST(held_until, $3)"
        " WHERE tenant = $1 AND held_by IN (SELECT 'change:' || number FROM w)",
        tenant,
        change_id,
        at,
    )


async def claim_held(conn: asyncpg.Connection, *, now: datetime, limit: int) -> list[HeldAlert]:
    """Held alerts whose window has ended, taken out of held_alerts (this transaction triages them again;
    another replica skips them)."""
    rows = await conn.fetch(
        "DELETE FROM held_alerts WHERE (tenant, dedup_key) IN (SELECT tenant, dedup_key FROM held_alerts"
        " WHERE held_until <= $1 ORDER BY held_until LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING tenant, dedup_key, alert_id, held_by, held_until, received_at, envelope",
        now,
        limit,
    )
    return [HeldAlert(**dict(r)) for r in rows]


async def mark_released(conn: asyncpg.Connection, *, alerts: Sequence[Released]) -> None:
    """Held alerts triaged again: their rows say what they did."""
    await conn.execute(
        "UPDATE incident_alerts a SET incident_id = r.incident_id, effect = r.effect, note = r.note"
        " FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[]) AS r(alert_id, incident_id, effect, note)"
        " WHERE a.alert_id = r.alert_id",
        *fields_as_columns(alerts, _RELEASED),
    )
