"""The consumer loop against real JetStream: batch fallback, bounded redelivery, dead letters."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest

from libs.bus import Bus, connect_bus
from libs.consumer import Consumer
from libs.events import Envelope
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
    assert letter.subject == f"{bus.prefix}_dlq.{DURABLE}"
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
