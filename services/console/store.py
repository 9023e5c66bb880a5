"""The console's SQL: its sessions, and nothing else (incidents and changes are read through the APIs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class SessionRow:
    id_sha256: str
    user_name: str
    role: str
    tenant: str | None
    sealed_token: bytes
    csrf_secret: str
    created_at: datetime
    expires_at: datetime


_COLUMNS = "id_sha256, user_name, role, tenant, sealed_token, csrf_secret, created_at, expires_at"


async def insert_session(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    id_sha256: str,
    user_name: str,
    role: str,
    tenant: str | None,
    sealed_token: bytes,
    csrf_secret: str,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO sessions (id_sha256, user_name, role, tenant, sealed_token, csrf_secret, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id_sha256, user_name, role, tenant, sealed_token, csrf_secret, expires_at,
    )  # fmt: skip


async def live_session(conn: asyncpg.Connection | asyncpg.Pool, *, id_sha256: str) -> SessionRow | None:
    """The session with this id hash, unless it has expired (the pruner deletes those later)."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM sessions WHERE id_sha256 = $1 AND expires_at > now()", id_sha256)
    return SessionRow(**dict(row)) if row else None


async def delete_session(conn: asyncpg.Connection | asyncpg.Pool, *, id_sha256: str) -> bool:
    return await conn.fetchval("DELETE FROM sessions WHERE id_sha256 = $1 RETURNING true", id_sha256) is not None


async def prune_expired(conn: asyncpg.Connection | asyncpg.Pool, *, limit: int = 5000) -> int:
    """Delete up to `limit` expired sessions; the pruner calls again while a full batch went."""
    done = await conn.fetchval(
        "WITH gone AS (DELETE FROM sessions WHERE id_sha256 IN (SELECT id_sha256 FROM sessions"
        " WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING 1) SELECT count(*) FROM gone",
        limit,
    )
    return int(done)
