"""The unit of work: a state change, its inbox marks and the events it raises commit in one transaction.

    async with unit_of_work(pool, outbox) as tx:
        await store.save(tx.conn, ...)
        tx.emit(event)

Leaving the block without an exception writes what was emitted to the outbox inside the transaction,
commits, and only then hands the staged rows to the relay (which publishes them from memory); an exception
rolls everything back and emits nothing. Every consumed batch (`handle_messages`), API command and worker
tick of every service goes through here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import asyncpg

from libs.events import Envelope
from libs.outbox import Outbox, claim, stage


class Tx:
    """One open unit of work: its connection (inside a transaction) and the events raised so far."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.events: list[Envelope] = []
        self.committed: list[Callable[[], None]] = []

    def emit(self, *events: Envelope | None) -> None:
        """Raise events (None is skipped: builders answer None when nothing happened). They reach the outbox
        with this transaction, and the bus after its commit."""
        self.events.extend(e for e in events if e is not None)

    def emit_all(self, events: Iterable[Envelope | None]) -> None:
        self.emit(*events)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the transaction has committed (never if it rolls back): for effects outside the
        database, such as a Prometheus observation, that must not happen twice when a batch is retried."""
        self.committed.append(action)


@contextlib.asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool, outbox: Outbox) -> AsyncIterator[Tx]:
    """A transaction whose emitted events are staged before it commits and relayed once it has."""
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn)
        yield tx
        staged = await stage(conn, outbox.bus, tx.events)
    outbox.committed(staged)
    for action in tx.committed:
        action()


Apply = Callable[[Tx, list[Envelope]], Awaitable[None]]


async def handle_messages(pool: asyncpg.Pool, outbox: Outbox, envelopes: list[Envelope], apply: Apply) -> None:
    """A consumed batch in one unit of work: mark the ids processed, apply those not seen before (a replay's
    original id counts as its own: libs.events.Envelope.inbox_id), and commit what they raised with them."""
    async with unit_of_work(pool, outbox) as tx:
        fresh = await claim(tx.conn, [e.inbox_id for e in envelopes])
        seen: set[str] = set()
        todo = []
        for e in envelopes:  # a batch may hold a redelivered copy of its own message (or a replay of one)
            if e.inbox_id in fresh and e.inbox_id not in seen:
                seen.add(e.inbox_id)
                todo.append(e)
        if todo:
            await apply(tx, todo)
