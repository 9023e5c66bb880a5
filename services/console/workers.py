"""The console's one periodic job: deleting expired sessions (a lookup already ignores them)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from services.console import store

log = structlog.get_logger()
PRUNE_EVERY_S = 600.0


async def prune_sessions(pool: asyncpg.Pool, *, every_s: float = PRUNE_EVERY_S) -> None:
    """Forever: delete expired sessions, in batches, then sleep. Replicas share the work (SKIP LOCKED)."""
    while True:
        try:
            total = 0
            while (n := await store.prune_expired(pool)) > 0:
                total += n
            if total:
                log.info("console.sessions_pruned", removed=total)
        except Exception as exc:  # the database may be away; try again next round
            log.warning("console.prune_failed", error=repr(exc))
        await asyncio.sleep(every_s)
