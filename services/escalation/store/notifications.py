"""SQL of `notifications` and `notification_attempts`: one notification per target and cause, queued with the
cause's transaction, claimed by one sender at a time, and every attempt at sending it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import asyncpg

from services.escalation.domain.notifications import Attempt, Delivery, Notification, Status
from services.escalation.store import arrays


async def enqueue(conn: asyncpg.Connection, notifications: Sequence[Notification]) -> int:
    """Queue notifications; a replayed cause (same target and dedup key) queues nothing. Returns how many were new.
    A page waits until its `due_at` (a contact method's delay); everything else is due at once."""
    if not notifications:
        return 0
    names = ("id", "tenant", "incident_id", "number", "target", "kind", "trigger", "dedup_key", "person", "method",
             "schedule")  # fmt: skip
    status = await conn.execute(
        f"INSERT INTO notifications ({', '.join(names)}, body, next_attempt_at) SELECT i, t, ii, n, ta, k, tr, d, p,"
        " m, s, b, COALESCE(due, now()) FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[],"
        " $6::text[], $7::text[], $8::text[], $9::text[], $10::smallint[], $11::text[], $12::jsonb[],"
        " $13::timestamptz[]) AS u(i, t, ii, n, ta, k, tr, d, p, m, s, b, due) ON CONFLICT DO NOTHING",
        *arrays(notifications, names),
        [json.dumps(n.body) for n in notifications],
        [n.due_at for n in notifications],
    )
    return int(status.rsplit(" ", 1)[-1])


async def cancel_pages(conn: asyncpg.Connection, *, incident_id: str) -> int:
    """The incident was acknowledged or resolved: its pages not sent yet (a contact method still waiting its
    delay, or a retry) are cancelled. Returns how many."""
    status = await conn.execute(
        "UPDATE notifications SET status = 'cancelled', finished_at = now() WHERE incident_id = $1"
        " AND status = 'pending' AND person IS NOT NULL",
        incident_id,
    )
    return int(status.rsplit(" ", 1)[-1])


async def claim_due(conn: asyncpg.Connection, *, limit: int, lease_s: float) -> list[Delivery]:
    """Pending notifications that are due, leased to this replica for `lease_s` (no other replica sends them
    meanwhile; if this one dies mid-send, the lease runs out and another tries again)."""
    rows = await conn.fetch(
        "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)"
        " WHERE id IN (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, tenant, incident_id, number, target, kind, trigger, body, attempts, person, method, schedule",
        limit,
        lease_s,
    )
    return [Delivery(**dict(r) | {"id": str(r["id"]), "incident_id": str(r["incident_id"])}) for r in rows]


async def record_attempt(
    conn: asyncpg.Connection, delivery: Delivery, attempt: Attempt, *, at: datetime, status: Status, next_at: datetime
) -> None:
    """Keep the attempt, and the notification's status after it (pending again, delivered or dead)."""
    await conn.execute(
        "INSERT INTO notification_attempts (notification_id, attempt, at, ok, status_code, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        delivery.id,
        delivery.attempts,
        at,
        attempt.ok,
        attempt.status_code,
        attempt.error,
        attempt.duration_ms,
    )
    await conn.execute(
        # A page cancelled while it was being sent stays cancelled unless this attempt delivered it.
        "UPDATE notifications SET status = CASE WHEN status = 'cancelled' AND $2 <> 'delivered' THEN 'cancelled'"
        " ELSE $2 END, last_error = $3, next_attempt_at = $4,"
        " finished_at = CASE WHEN $2 = 'pending' THEN finished_at ELSE $5::timestamptz END WHERE id = $1",
        delivery.id,
        status,
        attempt.error,
        next_at,
        at,
    )


@dataclass(frozen=True, kw_only=True)
class NotificationRead:
    """A notification as the API lists it, with every attempt at sending it."""

    id: uuid.UUID
    tenant: str
    incident_id: uuid.UUID
    number: str
    target: str
    kind: str
    trigger: str
    person: str | None  # a page: the person paged (`kind` is the contact method) and the schedule, if any
    schedule: str | None
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[dict[str, Any]]


_NOTIFICATION_COLUMNS = ", ".join(f"n.{f.name}" for f in fields(NotificationRead) if f.name != "attempt_log")


async def newest(
    conn: asyncpg.Connection, *, tenants: list[str] | None, incident: str | None, status: str | None, limit: int
) -> list[NotificationRead]:
    """Notifications newest first, each with its attempts."""
    where = ["($1::text[] IS NULL OR n.tenant = ANY($1::text[]))", "($2::text IS NULL OR n.status = $2)"]
    args: list[Any] = [tenants, status]
    if incident is not None:
        try:
            args.append(uuid.UUID(incident))
            where.append(f"n.incident_id = ${len(args)}")
        except ValueError:
            args.append(incident.upper())
            where.append(f"n.number = ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {_NOTIFICATION_COLUMNS}, COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt,"
        " 'at', a.at, 'ok', a.ok, 'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms)"
        " ORDER BY a.attempt) FROM notification_attempts a WHERE a.notification_id = n.id), '[]') AS attempt_log"
        f" FROM notifications n WHERE {' AND '.join(where)} ORDER BY n.created_at DESC, n.id LIMIT ${len(args)}",
        *args,
    )
    return [NotificationRead(**dict(r) | {"attempt_log": _json(r["attempt_log"])}) for r in rows]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
