"""The console's one periodic job: deleting expired sessions (a lookup already ignores them)."""

from __future__ import annotations

import asyncpg
import structlog

from libs.workers import Worker
from services.console import store

log = structlog.get_logger()
PRUNE_EVERY_S = 600.0


async def prune_sessions(pool: asyncpg.Pool) -> int:
    """Delete expired sessions, in batches (replicas share the work: SKIP LOCKED)."""
    total = 0
    while (n := await store.prune_expired(pool)) > 0:
        total += n
    if total:
        log.info("console.sessions_pruned", removed=total)
    return 0  # never "full": the next round is a while away anyway


def workers(pool: asyncpg.Pool) -> list[Worker]:
    return [Worker("console-sessions", lambda: prune_sessions(pool), poll_s=PRUNE_EVERY_S)]
