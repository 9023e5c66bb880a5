"""Inbox and transactional outbox: the tables behind libs.uow's unit of work, and the relay.

After commit the unit of work hands the rows it staged to the relay, which publishes them to JetStream
(Nats-Msg-Id = event id) from memory and deletes them: one statement per batch, no read of the table. The
table stays the record: a crash before the publish leaves rows that the relay's periodic pass (and the next
process's) reads and sends, and so does a failed publish; a crash after the publish but before the delete
resends them, and JetStream's duplicate window plus every consumer's inbox drop the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import NamedTuple

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


class Staged(NamedTuple):
    """One outbox row as it was written: what the relay publishes from memory once its transaction commits."""

    seq: int
    event_id: str
    subject: str
    payload: bytes


async def stage(conn: asyncpg.Connection, bus: Bus, events: Sequence[Envelope]) -> list[Staged]:
    """Write raised events to the outbox inside the caller's transaction; returns the rows written."""
    if not events:
        return []
    ids, subjects, payloads = [e.id for e in events], [bus.subject_of(e) for e in events], [e.encode() for e in events]
    # unnest() yields, and the INSERT numbers and returns, the rows in array order.
    seqs = await conn.fetch(
        "INSERT INTO outbox(event_id, subject, payload) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])"
        " RETURNING seq",
        ids,
        subjects,
        payloads,
    )
    return [Staged(r["seq"], *row) for r, row in zip(seqs, zip(ids, subjects, payloads, strict=True), strict=True)]


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
    """Relays committed outbox rows to JetStream: what this process's units of work hand over after their commit,
    from memory; and, every `poll_s` and after a failure, whatever the table holds (rows of a crashed process, of
    a unit of work cancelled between its commit and the hand-over, of a publish that failed)."""

    def __init__(self, pool: asyncpg.Pool, bus: Bus, *, batch: int = 500, poll_s: float = 1.0) -> None:
        self.pool, self.bus, self.batch, self.poll_s = pool, bus, batch, poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._staged: list[Staged] = []  # committed, not yet published by this process
        self._behind = False  # a pass failed: older rows may be in the table, so it is read before memory
        self._read_at = 0.0  # loop time of the last pass over the table

    def kick(self) -> None:
        self._wake.set()

    def committed(self, rows: Sequence[Staged]) -> None:
        """Rows whose transaction has committed: publish them (the unit of work calls this after its commit)."""
        if rows:
            self._staged.extend(rows)
            self._wake.set()

    async def start(self) -> None:
        self._read_at = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        with contextlib.suppress(Exception):
            await self.relay_all()  # flush what committed before shutdown

    async def _run(self) -> None:
        pause = 0.0  # after a failure: doubling up to 5 s, so an outage is one line a few seconds, not a flood
        loop = asyncio.get_running_loop()
        while True:
            # asyncio.timeout, not wait_for: see _publish.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if self._behind or loop.time() - self._read_at >= self.poll_s:
                    await self.relay_all()
                else:
                    await self._relay_staged()
                if pause:
                    log.info("outbox.relay_resumed")
                pause = 0.0
            except Exception as exc:  # NATS or PostgreSQL down: rows stay, the next pass retries from the table
                self._behind = True
                if not pause:
                    log.warning("outbox.relay_failed", error=repr(exc))
                pause = min(5.0, max(0.5, pause * 2))
                await asyncio.sleep(pause)

    async def relay_all(self) -> int:
        """Publish what was handed over, then every row the table holds; returns how many rows were sent."""
        total = await self._relay_staged()
        # The table holds everything committed so far, this process's hand-overs included, in seq order.
        self._staged.clear()
        self._read_at = asyncio.get_running_loop().time()
        while (n := await self._relay_once()) > 0:
            total += n
            if n < self.batch:
                break
        self._behind = False
        return total

    async def _relay_staged(self) -> int:
        total = 0
        while self._staged and not self._behind:
            rows, self._staged = self._staged[: self.batch], self._staged[self.batch :]
            await self._publish(rows)
            seqs = ",".join(str(int(r.seq)) for r in rows)
            async with self.pool.acquire() as conn:
                # One simple query, so one implicit transaction: SET LOCAL holds for the DELETE. Losing it in a
                # crash only means a republish that the duplicate window drops, so no WAL flush is waited for.
                await conn.execute(
                    f"SET LOCAL synchronous_commit TO off; DELETE FROM outbox WHERE seq = ANY('{{{seqs}}}'::bigint[])"
                )
            total += len(rows)
        return total

    async def _publish(self, rows: Sequence[Staged] | Sequence[asyncpg.Record]) -> None:
        futures = [
            await self.bus.js.publish_async(r[2], r[3], headers={"Nats-Msg-Id": r[1]})  # (seq, id, subject, payload)
            for r in rows
        ]
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that lands as the
        # acks complete (cpython gh-86296); the relay then ran on and stop() waited for good (seen in CI).
        async with asyncio.timeout(10):
            await asyncio.gather(*futures)

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
            await self._publish(rows)
            await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", [r["seq"] for r in rows])
            return len(rows)
