"""`tierline reporting rebuild`: replay the JetStream stream from its first message into a fresh ledger.

The replay fills `ledger_rebuild` with every event the stream still holds, checked against its contract
exactly as the live consumer checks it, then swaps it in under a lock in one transaction. Rows the
stream no longer holds (older than its retention) and rows the live consumer recorded while the replay
ran are carried over, so a rebuild never loses what only the ledger still remembers. The live
consumer may keep running: it waits on the lock for the moment of the swap.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg
import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from libs.bus import Bus, connect_bus
from libs.events import Envelope
from libs.settings import Settings
from services.reporting import store
from services.reporting.domain.ledger import LedgerEntry, ledger_entry

log = structlog.get_logger()
BATCH = 1000


@dataclass
class Rebuilt:
    replayed: int  # events read from the stream
    rejected: int  # events whose payload breaks its contract (the live consumer dead-letters them too)
    carried_over: int  # ledger rows the stream no longer holds, or recorded live during the replay
    ledger_rows: int
    seconds: float


async def rebuild(settings: Settings) -> Rebuilt:
    assert settings.nats_url and settings.database_url
    started = time.perf_counter()
    bus = await connect_bus(settings, name="reporting-rebuild")
    # One connection for the whole rebuild: the advisory lock that keeps rebuilds apart is per session.
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "reporting"})
    try:
        info = await bus.js.stream_info(bus.stream)
        await store.start_rebuild(conn)
        replayed, rejected = await replay(bus, conn, last=info.state.last_seq if info.state.messages else 0)
        carried, total = await store.finish_rebuild(conn)
    finally:
        await conn.close()
        await bus.close()
    result = Rebuilt(replayed, rejected, carried, total, round(time.perf_counter() - started, 2))
    log.info("reporting.rebuilt", **result.__dict__)
    return result


async def replay(bus: Bus, conn: asyncpg.Connection, *, last: int) -> tuple[int, int]:
    """Every event up to stream sequence `last` into ledger_rebuild, in stream order; (read, rejected).

    Read with an ephemeral pull consumer, a batch at a time: the server sends no more than we asked for, so a
    slow database only slows the replay. (A push subscription overran its pending limit on a large stream while
    the inserts ran, the client dropped messages, and the replay stalled until it timed out.)
    """
    if not last:
        return 0, 0
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=60)
    sub = await bus.js.pull_subscribe(f"{bus.prefix}.>", stream=bus.stream, config=config)
    replayed = rejected = 0
    try:
        while True:
            entries: list[LedgerEntry] = []
            for msg in await sub.fetch(BATCH, timeout=10):
                replayed += 1
                seq = msg.metadata.sequence.stream
                try:
                    entries.append(ledger_entry(Envelope.decode(msg.data)))
                except Exception as exc:  # a broken payload: the live consumer dead-letters it too
                    rejected += 1
                    log.warning("reporting.rebuild_rejected", seq=seq, error=repr(exc))
                if seq >= last:
                    break
            await store.append(conn, entries=entries, table="ledger_rebuild")
            if seq >= last:
                return replayed, rejected
    finally:
        await sub.unsubscribe()


def run(settings: Settings) -> Rebuilt:
    """`tierline reporting rebuild`, given the running stack's settings."""
    return asyncio.run(rebuild(settings))
