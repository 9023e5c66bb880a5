"""Inbox, transactional outbox and migrations against real PostgreSQL and JetStream."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from libs.bus import connect_bus
from libs.db import create_pool, migrate, pending_migrations
from libs.events import Envelope
from libs.outbox import Outbox, prune_inbox, stage
from libs.uow import handle_messages
from tests.conftest import eventually

SCHEMA = "t_outbox"


def envelope(n: int, kind: str = "thing.requested") -> Envelope:
    return Envelope(
        id=f"{kind}-{n}", source="tierline/test", type=f"tierline.{kind}", tenant="acme",
        correlationid=f"c-{n}", data={"n": n},
    )  # fmt: skip


@pytest.fixture
def migrations(tmp_path):
    (tmp_path / "001_things.sql").write_text("CREATE TABLE things (id text PRIMARY KEY);\n")
    return tmp_path


@pytest.fixture
async def pool(settings, migrations):
    pool = await create_pool(settings.database_url, schema=SCHEMA)
    yield pool
    await pool.close()


@pytest.fixture
async def bus(settings):
    bus = await connect_bus(settings, name="outbox-test")
    yield bus
    await bus.close()


@pytest.fixture
async def migrated(pool, migrations):
    await migrate(pool, schema=SCHEMA, migrations=migrations)
    return pool


class Things:
    """`apply` for handle_messages: store each envelope's id (a primary key) and raise one event for it."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    async def __call__(self, tx, envelopes: list[Envelope]) -> None:
        for e in envelopes:
            await tx.conn.execute("INSERT INTO things(id) VALUES ($1)", e.id)
            self.applied.append(e.id)
        tx.emit(*[envelope(e.data["n"], "thing.stored") for e in envelopes])


async def stream_count(bus) -> int:
    return (await bus.js.stream_info(bus.stream)).state.messages


async def outbox_rows(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox")


async def test_inbox_applies_each_envelope_once(migrated, bus):
    pool, apply = migrated, Things()
    outbox = Outbox(pool, bus)
    a, b, c = envelope(1), envelope(2), envelope(3)

    await handle_messages(pool, outbox, [a, b, a, c], apply)  # a redelivered copy inside one batch
    await handle_messages(pool, outbox, [c, b, a], apply)  # the whole batch again
    await handle_messages(pool, outbox, [a, envelope(4)], apply)

    assert apply.applied == [a.id, b.id, c.id, "thing.requested-4"]
    assert await pool.fetchval("SELECT count(*) FROM things") == 4
    assert await pool.fetchval("SELECT count(*) FROM processed") == 4
    assert await outbox_rows(pool) == 4  # one raised event per applied envelope, none for the repeats


async def test_events_of_a_rolled_back_transaction_are_never_published(migrated, bus):
    pool = migrated
    committed, rolled_back = envelope(1, "thing.stored"), envelope(2, "thing.stored")
    async with pool.acquire() as conn, conn.transaction():
        await stage(conn, bus, [committed])
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO things(id) VALUES ('x')")
            await stage(conn, bus, [rolled_back])
            raise RuntimeError("the change failed after its events were staged")

    assert await Outbox(pool, bus).relay_all() == 1
    assert await stream_count(bus) == 1
    msg = await bus.js.get_msg(bus.stream, 1)
    assert Envelope.decode(msg.data).id == committed.id
    assert msg.headers["Nats-Msg-Id"] == committed.id
    assert await pool.fetchval("SELECT count(*) FROM things") == 0


async def test_committed_but_unrelayed_events_are_published_once_after_a_crash(migrated, bus):
    pool, apply = migrated, Things()
    crashed = Outbox(pool, bus)  # never started: the process "died" after the commit
    await handle_messages(pool, crashed, [envelope(1), envelope(2)], apply)
    assert await outbox_rows(pool) == 2
    assert await stream_count(bus) == 0
    staged = await pool.fetch("SELECT event_id, subject, payload FROM outbox ORDER BY seq")

    restarted = Outbox(pool, bus, poll_s=0.05)  # the next process: its polling pass finds the rows
    await restarted.start()
    try:
        await eventually(lambda: _outbox_empty(pool))
        assert await stream_count(bus) == 2

        # A crash between publish and delete: the same rows are relayed again.
        await pool.executemany(
            "INSERT INTO outbox(event_id, subject, payload) VALUES ($1, $2, $3)",
            [(r["event_id"], r["subject"], r["payload"]) for r in staged],
        )
        restarted.kick()
        await eventually(lambda: _outbox_empty(pool))
    finally:
        await restarted.stop()

    assert await stream_count(bus) == 2  # JetStream's duplicate window dropped the copies
    ids = [Envelope.decode((await bus.js.get_msg(bus.stream, seq)).data).id for seq in (1, 2)]
    assert ids == ["thing.stored-1", "thing.stored-2"]


@pytest.mark.filterwarnings("ignore::asyncpg.InterfaceWarning")  # the listeners stay on pooled connections on purpose
async def test_committed_events_are_published_from_memory_without_reading_the_outbox(migrated, bus, settings):
    statements: list[str] = []
    notices: list[str] = []

    async def watch(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda q: statements.append(q.query))
        conn.add_log_listener(lambda _conn, msg: notices.append(str(msg)))

    pool = await asyncpg.create_pool(settings.database_url, server_settings={"search_path": SCHEMA}, init=watch)
    outbox = Outbox(pool, bus, poll_s=3600)  # its periodic pass over the table does not come during the test
    await outbox.start()
    try:
        await handle_messages(pool, outbox, [envelope(1), envelope(2)], Things())
        await eventually(lambda: _outbox_empty(pool))
        seen = list(statements)
    finally:
        await outbox.stop()
        await pool.close()

    assert await stream_count(bus) == 2
    assert not [q for q in seen if "FOR UPDATE" in q], "the relay read the table instead of what was handed over"
    assert not notices  # e.g. "SET LOCAL can only be used in transaction blocks": the DELETE's setting held


async def test_migrate_applies_each_file_once_and_pending_reports_new_files(pool, migrations):
    assert await migrate(pool, schema=SCHEMA, migrations=migrations) == ["000_tierline_lib", "001_things"]
    assert await migrate(pool, schema=SCHEMA, migrations=migrations) == []
    assert await pending_migrations(pool, migrations=migrations) == []

    (migrations / "002_more.sql").write_text("ALTER TABLE things ADD COLUMN note text;\n")
    assert await pending_migrations(pool, migrations=migrations) == ["002_more"]
    assert await migrate(pool, schema=SCHEMA, migrations=migrations) == ["002_more"]
    assert await pending_migrations(pool, migrations=migrations) == []
    await pool.execute("INSERT INTO things(id, note) VALUES ('a', 'b')")
    schema = await pool.fetchval("SELECT table_schema FROM information_schema.tables WHERE table_name = 'things'")
    assert schema == SCHEMA


async def test_a_released_connection_is_not_reset_but_a_transaction_left_open_is_rolled_back(migrated, settings):
    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=1)  # one connection, reused
    statements: list[str] = []
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda q: statements.append(q.query))
            await conn.fetchval("SELECT 1")
        async with pool.acquire() as conn:
            await conn.transaction().start()  # never committed, as after a cancellation in the middle
            await conn.execute("INSERT INTO things(id) VALUES ('left open')")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM things") == 0
    finally:
        await pool.close()
    assert not [q for q in statements if "RESET" in q]  # asyncpg's RESET ALL round trip on every release


async def _outbox_empty(pool) -> bool:
    return await outbox_rows(pool) == 0


async def test_prune_inbox_forgets_only_old_ids(settings):
    pool = await create_pool(settings.database_url, schema="t_prune")
    try:
        await migrate(pool, schema="t_prune", migrations=Path("/nonexistent"))
        await pool.execute(
            "INSERT INTO processed(event_id, processed_at) SELECT 'old-' || g, now() - interval '8 days'"
            " FROM generate_series(1, 25) g"
        )
        await pool.execute("INSERT INTO processed(event_id) VALUES ('recent')")
        assert await prune_inbox(pool, older_than_days=7, batch=10) == 25
        assert [r["event_id"] for r in await pool.fetch("SELECT event_id FROM processed")] == ["recent"]
    finally:
        await pool.close()
