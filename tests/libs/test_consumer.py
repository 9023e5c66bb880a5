"""The consumer loop against real JetStream: batch fallback, bounded redelivery, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections import Counter

import asyncpg
import pytest
import structlog.testing

from libs.bus import Bus, connect_bus
from libs.consumer import Consumer
from libs.events import Envelope
from libs.faults import classify
from tests.conftest import eventually

DURABLE = "probe"


def envelope(n: int) -> Envelope:
    return Envelope(
        id=f"evt-{n}", source="tierline/test", type="tierline.test.happened", tenant="acme",
        correlationid=f"evt-{n}", data={"n": n},
    )  # fmt: skip


class Recorder:
    """A handler that behaves like a transaction: a batch holding the poison id fails as a whole."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.handled: Counter[str] = Counter()
        self.calls: list[list[str]] = []

    async def __call__(self, envelopes: list[Envelope]) -> None:
        ids = [e.id for e in envelopes]
        self.calls.append(ids)
        if self.poison in ids:
            raise RuntimeError(f"cannot handle {self.poison}")
        self.handled.update(ids)


async def dead_letters(bus: Bus) -> list:
    """Every message on this test's dead-letter stream, in order."""
    info = await bus.js.stream_info(bus.dead_letter_stream)
    first, last = info.state.first_seq, info.state.last_seq
    if not info.state.messages:
        return []
    return [await bus.js.get_msg(bus.dead_letter_stream, seq) for seq in range(first, last + 1)]


@pytest.fixture
async def bus(settings):
    bus = await connect_bus(settings.model_copy(update={"max_deliveries": 3}), name="consumer-test")
    yield bus
    await bus.close()


@pytest.fixture
async def consumers():
    started: list[Consumer] = []
    yield started
    for c in started:
        # stop() re-raises whatever ended the loop; a test asserts on behaviour, not on teardown.
        with contextlib.suppress(Exception):
            await c.stop()


async def test_poison_message_is_dead_lettered_and_its_batch_neighbours_handled_once(bus, consumers):
    recorder = Recorder(poison="evt-3")
    # Published before the consumer starts, so the first fetch brings all six in one batch.
    for n in range(6):
        await bus.publish(envelope(n))
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], recorder)
    await consumer.start()
    consumers.append(consumer)

    dlq = await eventually(lambda: dead_letters(bus))
    await eventually(lambda: _lag_is_zero(bus))

    assert len(recorder.calls[0]) == 6, f"expected one batch of six first, got {recorder.calls}"
    assert recorder.handled == Counter({f"evt-{n}": 1 for n in (0, 1, 2, 4, 5)})

    assert len(dlq) == 1
    letter = dlq[0]
    assert letter.subject == f"{bus.prefix}_dlq.{DURABLE}.{bus.subject('test.happened', 'acme')}"
    assert Envelope.decode(letter.data).id == "evt-3"
    assert letter.headers["Tierline-Consumer"] == DURABLE
    assert "cannot handle evt-3" in letter.headers["Tierline-Error"]
    assert letter.headers["Tierline-Subject"] == bus.subject("test.happened", "acme")
    assert letter.headers["Tierline-Deliveries"] == "3"

    # Acknowledged once dead-lettered: the server holds nothing more for this consumer to redeliver.
    info = await bus.js.consumer_info(bus.stream, DURABLE)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    attempts = sum("evt-3" in ids for ids in recorder.calls)

    # A later message flows normally and the poison one does not come back with it.
    await bus.publish(envelope(6))
    await eventually(lambda: _handled(recorder, "evt-6"))
    assert sum("evt-3" in ids for ids in recorder.calls) == attempts
    assert len(await dead_letters(bus)) == 1


async def test_undecodable_payload_is_dead_lettered_at_once(bus, consumers):
    recorder = Recorder(poison="none")
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], recorder)
    await consumer.start()
    consumers.append(consumer)

    subject = bus.subject("test.happened", "acme")
    await bus.js.publish(subject, b"{not an envelope")
    await bus.publish(envelope(1))

    dlq = await eventually(lambda: dead_letters(bus))
    await eventually(lambda: _handled(recorder, "evt-1"))
    await eventually(lambda: _lag_is_zero(bus))

    assert len(dlq) == 1
    letter = dlq[0]
    assert letter.data == b"{not an envelope"
    assert letter.headers["Tierline-Error"].startswith("undecodable envelope")
    assert letter.headers["Tierline-Deliveries"] == "1"
    assert letter.headers["Tierline-Subject"] == subject
    # The handler never saw the undecodable message; the good one was handled exactly once.
    assert recorder.handled == Counter({"evt-1": 1})


async def test_a_failed_dead_letter_publish_does_not_stop_the_fetch_loop(bus, consumers):
    """Dead-lettering can fail (here: no stream takes the DLQ subject); the loop must keep consuming."""
    recorder = Recorder(poison="none")
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], recorder)
    await consumer.start()
    consumers.append(consumer)
    await bus.js.delete_stream(bus.dead_letter_stream)

    await bus.js.publish(bus.subject("test.happened", "acme"), b"{not an envelope")
    await eventually(lambda: _fetched_all(bus))  # the undecodable one is delivered; its dead-letter fails
    await bus.publish(envelope(1))

    await eventually(lambda: _handled(recorder, "evt-1"))


async def _fetched_all(bus: Bus) -> bool:
    info = await bus.js.consumer_info(bus.stream, DURABLE)
    return info.num_pending == 0 and info.delivered.stream_seq >= 1


async def _lag_is_zero(bus: Bus) -> bool:
    return await bus.lag(DURABLE) == 0


async def _handled(recorder: Recorder, event_id: str) -> bool:
    return recorder.handled[event_id] > 0


class Outage:
    """A handler whose database is away while `down`: it fails as asyncpg does then, and so does the probe."""

    def __init__(self, error: Exception) -> None:
        self.down, self.error = True, error
        self.calls = self.probes = 0
        self.handled: Counter[str] = Counter()

    async def __call__(self, envelopes: list[Envelope]) -> None:
        self.calls += 1
        if self.down:
            raise self.error
        self.handled.update(e.id for e in envelopes)

    async def probe(self) -> None:
        self.probes += 1
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(111, "Connection refused"), RuntimeError("odd error while the database is away")],
    ids=["refused", "any-error-while-unhealthy"],
)
async def test_an_outage_longer_than_the_retry_schedule_costs_no_deliveries(bus, consumers, error):
    outage = Outage(error)
    fast = bus.settings.model_copy(update={"dependency_backoff_s": [0.05], "ack_wait_s": 1.0})
    bus.settings = fast
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], outage, probes=[("PostgreSQL", outage.probe)])
    await consumer.start()
    consumers.append(consumer)
    await bus.publish(envelope(1))

    # Probed 40 times 50 ms apart: longer than the retry schedule (0.6 s) and twice the ack wait (1 s).
    await eventually(lambda: _probed(outage, 40), timeout=30)
    assert consumer.waiting and consumer.waiting.startswith("waiting for PostgreSQL: ConnectionRefusedError")
    assert await consumer.readiness() == consumer.waiting
    outage.down = False

    await eventually(lambda: _handled(outage, "evt-1"))
    await eventually(lambda: _lag_is_zero(bus))
    assert outage.handled == Counter({"evt-1": 1})
    assert await dead_letters(bus) == []
    info = await bus.js.consumer_info(bus.stream, DURABLE)
    assert info.num_redelivered == 0  # held with in_progress all along: delivered once
    assert consumer.waiting is None and await consumer.readiness() is None


async def test_a_deadlock_is_retried_at_once_without_a_redelivery(bus, consumers):
    class Racy:
        def __init__(self) -> None:
            self.calls = 0

        async def __call__(self, envelopes: list[Envelope]) -> None:
            self.calls += 1
            if self.calls <= 2:
                raise asyncpg.DeadlockDetectedError("deadlock detected")

    racy = Racy()
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], racy)
    await consumer.start()
    consumers.append(consumer)
    await bus.publish(envelope(1))
    await eventually(lambda: _lag_is_zero(bus))
    assert racy.calls == 3
    info = await bus.js.consumer_info(bus.stream, DURABLE)
    assert info.num_redelivered == 0 and await dead_letters(bus) == []


def test_failures_are_classified_by_whose_fault_they_are():
    assert classify(ConnectionRefusedError(111, "Connection refused")) == "dependency"
    assert classify(asyncpg.TooManyConnectionsError("too many")) == "dependency"
    assert classify(asyncpg.CannotConnectNowError("starting up")) == "dependency"
    assert classify(asyncpg.InterfaceError("pool is closing")) == "dependency"
    assert classify(TimeoutError()) == "dependency"
    assert classify(OSError(errno.EHOSTUNREACH, "no route")) == "dependency"
    assert classify(asyncpg.SerializationError("could not serialize")) == "retry_now"
    assert classify(asyncpg.DeadlockDetectedError("deadlock")) == "retry_now"
    assert classify(asyncpg.CharacterNotInRepertoireError("NUL")) == "message"
    assert classify(ValueError("bad payload")) == "message"
    assert classify(FileNotFoundError(errno.ENOENT, "gone")) == "message"
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert classify(outer) == "dependency"


async def _probed(outage: Outage, times: int) -> bool:
    return outage.probes > times


async def test_where_there_is_nowhere_further_to_dead_letter_it_logs_a_critical_line(bus, consumers):
    """The dead-letter stream's own consumer (triage's fallback) cannot dead-letter: a message it keeps failing
    on is logged at level critical, for the operator's log alerting, and acknowledged."""
    recorder = Recorder(poison="evt-1")
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], recorder, dead_letters=False)
    await consumer.start()
    consumers.append(consumer)
    with structlog.testing.capture_logs() as logs:
        await bus.publish(envelope(1))
        await eventually(lambda: _lag_is_zero(bus))
    dropped = [e for e in logs if e["event"] == "consumer.message_dropped"]
    assert len(dropped) == 1 and dropped[0]["log_level"] == "critical" and "evt-1" in dropped[0]["error"]
    assert await dead_letters(bus) == []


@pytest.mark.parametrize(
    "linger, background, together",
    [
        ({"batch_linger_ms": 1000.0, "background_linger_ms": 0.0}, False, True),
        ({"batch_linger_ms": 0.0, "background_linger_ms": 1000.0}, True, True),  # reporting's, change's
        ({"batch_linger_ms": 0.0, "background_linger_ms": 1000.0}, False, False),  # the same trickle, no wait
    ],
)
async def test_a_trickle_after_a_small_batch_shares_one_transaction(settings, linger, background, together):
    """After a batch smaller than BATCH_SIZE the loop waits its linger before fetching again (a background
    consumer the longer one): messages 30 ms apart then reach the handler as one batch (one transaction)
    instead of one each."""
    bus = await connect_bus(settings.model_copy(update=linger), name="linger-test")
    recorder = Recorder(poison="none")
    consumer = Consumer(bus, DURABLE, [bus.subject("test.happened")], recorder, background=background)
    try:
        await consumer.start()
        await bus.publish(envelope(0))
        await eventually(lambda: _handled(recorder, "evt-0"))
        for n in range(1, 6):  # published inside the linger that follows evt-0's batch of one
            await bus.publish(envelope(n))
            await asyncio.sleep(0.03)
        await eventually(lambda: _handled(recorder, "evt-5"))
        batches = [ids for ids in recorder.calls if "evt-0" not in ids]
        assert [id for ids in batches for id in ids] == [f"evt-{n}" for n in range(1, 6)]  # each once, in order
        assert (len(batches) == 1) is together, batches
    finally:
        await consumer.stop()
        await bus.close()
