"""libs.pull against real JetStream: a batch off the subscription's queue, the delivery count, the timeout."""

from __future__ import annotations

import pytest

from libs.bus import connect_bus, consumer_config
from libs.events import Envelope
from libs.pull import deliveries, fetch

DURABLE = "pull-probe"


@pytest.fixture
async def bus(settings):
    bus = await connect_bus(settings, name="pull-test")
    yield bus
    await bus.close()


async def subscribe(bus):
    await bus.js.add_consumer(bus.stream, config=consumer_config(bus, DURABLE, [bus.subject("test.pulled")]))
    return await bus.js.pull_subscribe_bind(durable=DURABLE, stream=bus.stream, pending_msgs_limit=1000)


def envelope(n: int) -> Envelope:
    return Envelope(
        id=f"pull-{n}", source="tierline/test", type="tierline.test.pulled", tenant="acme",
        correlationid=f"pull-{n}", data={"n": n},
    )  # fmt: skip


async def test_a_batch_comes_whole_in_order_and_the_rest_opens_the_next(bus):
    for n in range(25):
        await bus.publish(envelope(n))
    sub = await subscribe(bus)

    first = await fetch(sub, 10, timeout=2.0)
    rest = await fetch(sub, 100, timeout=2.0)

    assert [Envelope.decode(m.data).id for m in first] == [f"pull-{n}" for n in range(10)]
    assert [Envelope.decode(m.data).id for m in rest] == [f"pull-{n}" for n in range(10, 25)]
    assert {deliveries(m) for m in first + rest} == {1}
    for m in first + rest:
        await m.ack()


async def test_the_delivery_count_is_the_servers(bus):
    await bus.publish(envelope(1))
    sub = await subscribe(bus)
    (msg,) = await fetch(sub, 5, timeout=2.0)
    await msg.nak()
    (again,) = await fetch(sub, 5, timeout=2.0)

    assert Envelope.decode(again.data).id == "pull-1"
    assert deliveries(again) == 2 == again.metadata.num_delivered
    await again.ack()


async def test_nothing_to_fetch_times_out_then_a_later_message_arrives(bus):
    sub = await subscribe(bus)
    with pytest.raises(TimeoutError):
        await fetch(sub, 10, timeout=0.3)
    await bus.publish(envelope(7))

    (msg,) = await fetch(sub, 10, timeout=2.0)

    assert Envelope.decode(msg.data).id == "pull-7"
    await msg.ack()
