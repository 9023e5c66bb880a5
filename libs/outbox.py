"""Inbox and transactional outbox: the tables behind libs.uow's unit of work, and the relay.

After commit the relay publishes the outbox to JetStream (Nats-Msg-Id = event id) and deletes what was
stored. A crash before the publish leaves rows the next relay pass sends; a crash after the publish but
before the delete resends them, and JetStream's duplicate window plus every consumer's inbox drop the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import asyncpg
import structlog

from libs.bus import Bus
from libs.events import Envelope
from libs.tasks import cancel_and_wait

log = structlog.get_logger()


async def claim(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Mark ids processed; return those that were not already (the ones to apply)."""
    rows = await conn.fetch(
        "INSERT INTO processed(event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def stage(conn: asyncpg.Connection, bus: Bus, events: Sequence[Envelope]) -> None:
    """Write raised events to the outbox inside the caller's transaction."""
    if not events:
        return
    await conn.execute(
        "INSERT INTO outbox(event_id, subject, payload) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])",
        [e.id for e in events],
        [bus.subject_of(e) for e in events],
        [e.encode() for e in events],
    )


async def prune_inbox(pool: asyncpg.Pool, *, older_than_days: float, batch: int = 10_000) -> int:
    """Forget processed ids older than the retention; returns how many went.

    JetStream redelivers an unacknowledged message within minutes (ack wait x bounded deliveries), so an id
    that old can no longer come back; without this the inbox would grow with every event ever handled.
    """
    total = 0
    while True:
        status = await pool.execute(
            "DELETE FROM processed WHERE event_id IN (SELECT event_id FROM processed"
            " WHERE processed_at < now() - make_interval(days => $1) LIMIT $2)",
            older_than_days,
            batch,
        )
        n = int(status.rsplit(" ", 1)[-1])
        total += n
        if n < batch:
            return total


class Outbox:
    """Relays committed outbox rows to JetStream; woken after each commit, and polling as a safety net."""

    def __init__(self, pool: asyncpg.Pool, bus: Bus, *, batch: int = 500, poll_s: float = 1.0) -> None:
        self.pool, self.bus, self.batch, self.poll_s = pool, bus, batch, poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        with contextlib.suppress(Exception):
            await self.relay_all()  # flush what committed before shutdown

    async def _run(self) -> None:
        pause = 0.0  # after a failure: doubling up to 5 s, so an outage is one line a few seconds, not a flood
        while True:
            # asyncio.timeout, not wait_for: see _relay_once.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.relay_all()
                if pause:
                    log.info("outbox.relay_resumed")
                pause = 0.0
            except Exception as exc:  # NATS or PostgreSQL down: rows stay, the next pass retries
                if not pause:
                    log.warning("outbox.relay_failed", error=repr(exc))
                pause = min(5.0, max(0.5, pause * 2))
                await asyncio.sleep(pause)

    async def relay_all(self) -> int:
        total = 0
        while (n := await self._relay_once()) > 0:
            total += n
            if n < self.batch:
                break
        return total

    async def _relay_once(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            # Losing this transaction's DELETE in a crash only means a republish that JetStream's duplicate
            # window drops, so its commit need not wait for the WAL flush (one fsync less per relay).
            await conn.execute("SET LOCAL synchronous_commit TO off")
            # SKIP LOCKED lets replicas relay side by side without sending the same rows together.
            rows = await conn.fetch(
                "SELECT seq, event_id, subject, payload FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch,
            )
            if not rows:
                return 0
            futures = [
                await self.bus.js.publish_async(r["subject"], r["payload"], headers={"Nats-Msg-Id": r["event_id"]})
                for r in rows
            ]
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that lands as the
            # acks complete (cpython gh-86296); the relay then ran on and stop() waited for good (seen in CI).
            async with asyncio.timeout(10):
                await asyncio.gather(*futures)
            await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows])
            return len(rows)
