"""PostgreSQL: one pool per service schema, forward-only migrations, and the readiness probe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger()

# Tables every service owns in its own schema: the inbox and the outbox of "one message, one transaction".
_LIB_MIGRATION = """
CREATE TABLE IF NOT EXISTS processed (
    event_id     text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS outbox (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


IDLE_CONNECTION_S = 60.0


async def create_pool(dsn: str, *, schema: str, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see only `schema` on their search path: a service cannot read another's tables
    by accident."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        # A burst opens up to max_size connections, each a PostgreSQL backend holding ~5-10 MB of its own
        # (measured: bench.memory) plus the shared buffers it mapped; give them back a minute after the burst
        # rather than asyncpg's five. Under steady load they are never idle that long.
        max_inactive_connection_lifetime=IDLE_CONNECTION_S,
        server_settings={"search_path": schema, "application_name": f"tierline-{schema}"},
        reset=_keep_session,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, in place of asyncpg's `RESET ALL; CLOSE ALL; UNLISTEN *;
    pg_advisory_unlock_all()`, one round trip per release (160 per 1,000 new alerts over the stack): nothing here
    leaves session state behind. Settings are SET LOCAL, cursors live inside transactions, nobody LISTENs, and
    the one session advisory lock (migrate) is released in a `finally`. asyncpg still rolls back a transaction
    left open before it calls this."""


def columns(rows: Sequence[Sequence[Any]], width: int = 0) -> list[list[Any]]:
    """Rows as one list per column: the arrays of an `unnest($1::text[], $2::uuid[], ...)` insert or join, the
    way every batch statement here passes many rows in one round trip. `width` columns when there are no rows."""
    return [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


Spec = Sequence[tuple[str, str]]  # (column = field name, PostgreSQL type) of a batch statement, in order


def fields_as_columns(rows: Sequence[Any], spec: Spec) -> list[list[Any]]:
    """Typed rows (dataclasses, pydantic models: anything with those attributes) as one list per column of
    `spec`, JSON-encoding the jsonb ones: a batch statement's unnest() arrays, by name, never by position."""
    out: list[list[Any]] = [[] for _ in spec]
    for row in rows:
        for i, (name, pg_type) in enumerate(spec):
            value = getattr(row, name)
            out[i].append(json.dumps(value, default=_json_value) if pg_type == "jsonb" and value is not None else value)
    return out


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def unnest_args(spec: Spec, first: int = 1) -> str:
    """`$1::uuid[], $2::text[], ...` for `spec`, numbered from `first`."""
    return ", ".join(f"${first + i}::{pg_type}[]" for i, (_, pg_type) in enumerate(spec))


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(schema.encode()).digest()[:8], "big", signed=True)


async def migrate(pool: asyncpg.Pool, *, schema: str, migrations: Path) -> list[str]:
    """Apply the service's `NNN_name.sql` files not yet applied, in order, each in its own transaction.

    An advisory lock serialises replicas starting together. Returns the versions applied now.
    """
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            steps = [("000_tierline_lib", _LIB_MIGRATION)] + [
                (p.stem, p.read_text()) for p in sorted(migrations.glob("*.sql"))
            ]
            for version, sql in steps:
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations(version) VALUES ($1)", version)
                applied_now.append(version)
                log.info("db.migrated", schema=schema, version=version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied_now


async def pending_migrations(pool: asyncpg.Pool, *, migrations: Path) -> list[str]:
    """Versions present on disk but not applied (readiness fails while any remain)."""
    wanted = ["000_tierline_lib"] + [p.stem for p in sorted(migrations.glob("*.sql"))]
    try:
        rows = await pool.fetch("SELECT version FROM schema_migrations")
    except asyncpg.UndefinedTableError:  # never migrated: everything is pending
        rows = []
    have = {r["version"] for r in rows}
    return [v for v in wanted if v not in have]
