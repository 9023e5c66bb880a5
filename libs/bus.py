"""The bus: streams declared in one place, publish with Nats-Msg-Id, one durable pull consumer per service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.client import ServerVersion
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from libs.events import Envelope
from libs.settings import Settings, nats_servers

log = structlog.get_logger()

BatchHandler = Callable[[list[Envelope]], Awaitable[None]]
# The server's own delivery limit, only a backstop: our consumer loop dead-letters after MAX_DELIVERIES failures
# counted while PostgreSQL and NATS were healthy, and holds its batch (in_progress) through an outage, so a
# delivery is spent only when a process dies holding the message (ack wait expires) or the message is retried.
# Large, so a long outage with crash-looping services cannot exhaust it (a message that reached it would be
# dropped by the server without a word); the loop dead-letters a message one short of it.
MAX_DELIVER_BACKSTOP = 1000


@dataclass
class Bus:
    nc: NATS
    js: JetStreamContext
    prefix: str
    settings: Settings
    closing: dict[str, bool] = field(default_factory=lambda: {"now": False})

    @property
    def stream(self) -> str:
        return f"{self.prefix.upper()}_EVENTS"

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.prefix.upper()}_DEADLETTER"

    def subject(self, short_type: str, tenant: str = "*") -> str:
        """`tierline.incident.opened.acme`: type first so consumers filter by kind, tenant last."""
        return f"{self.prefix}.{short_type}.{tenant}"

    def subject_of(self, envelope: Envelope) -> str:
        return self.subject(envelope.short_type, envelope.tenant)

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    async def declare_streams(self) -> None:
        """Create or update every stream Tierline uses; safe to call from every service at start."""
        s = self.settings
        streams = [
            StreamConfig(
                name=self.stream,
                subjects=[f"{self.prefix}.>"],
                storage=StorageType.FILE,
                max_age=s.stream_max_age_days * 86400,
                duplicate_window=s.duplicate_window_s,
                num_replicas=s.stream_replicas,
            ),
            StreamConfig(
                name=self.dead_letter_stream,
                # Letters, and the marks of those replayed (libs/deadletters.py).
                subjects=[f"{self.prefix}_dlq.>", f"{self.prefix}_dlq_replayed.>"],
                storage=StorageType.FILE,
                max_age=s.stream_max_age_days * 86400,
                num_replicas=s.stream_replicas,
            ),
        ]
        for cfg in streams:
            try:
                await self.js.add_stream(cfg)
            except nats.js.errors.BadRequestError:
                await self.js.update_stream(cfg)

    async def publish(self, envelope: Envelope, *, timeout: float = 5.0) -> None:
        """Publish one event and wait for JetStream to store it."""
        await self.js.publish(
            self.subject_of(envelope),
            envelope.encode(),
            timeout=timeout,
            headers={"Nats-Msg-Id": envelope.id},
        )

    async def publish_many(self, envelopes: Sequence[Envelope], *, timeout: float = 10.0) -> None:
        """Publish a batch with many acks in flight (far faster than awaiting each), then wait for all."""
        futures = [
            await self.js.publish_async(
                self.subject_of(e), e.encode(), headers={"Nats-Msg-Id": e.id}, wait_stall=timeout
            )
            for e in envelopes
        ]
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that lands as the
        # acks complete (cpython gh-86296), leaving the cancelled caller running on.
        async with asyncio.timeout(timeout):
            await asyncio.gather(*futures)

    async def lag(self, durable: str) -> int:
        """Messages a consumer has not yet acknowledged (pending + in flight)."""
        info = await self.js.consumer_info(self.stream, durable)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def backlog(self, durable: str, subject: str) -> tuple[int, float]:
        """(messages not yet acknowledged, age in seconds of the oldest message on `subject` not yet delivered).

        The age is measured from the stream's own store time of the first matching message after the last one
        delivered: a consumer that stalls (stopped, or waiting for its database) stops taking new messages, so
        the age grows by a second every second, whatever the rate. Messages delivered but in retry back-off
        are not counted, so one poison message does not look like a stall.
        """
        info = await self.js.consumer_info(self.stream, durable)
        count = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        if not info.num_pending or info.delivered is None:
            return count, 0.0
        try:
            oldest = await self.js.get_msg(
                self.stream, (info.delivered.stream_seq or 0) + 1, subject=subject, next=True
            )
        except nats.js.errors.NotFoundError:  # nothing on that subject is waiting
            return count, 0.0
        if oldest.time is None:
            return count, 0.0
        stored = oldest.time if oldest.time.tzinfo else oldest.time.replace(tzinfo=UTC)
        return count, max(0.0, (datetime.now(UTC) - stored).total_seconds())

    async def close(self) -> None:
        # close, not drain: drain waits out a pending pull request (up to 30 s); anything we have not
        # acknowledged is redelivered anyway, and the outbox relay has flushed before we get here.
        self.closing["now"] = True
        if not self.nc.is_closed:
            await self.nc.close()


async def connect_bus(settings: Settings, *, name: str) -> Bus:
    """Connect to NATS (reconnecting forever) and declare the streams."""
    assert settings.nats_url, "TIERLINE_NATS_URL must be set by the time a service starts"

    closing = {"now": False}  # a disconnect we asked for is not worth a warning

    async def on_disconnect() -> None:
        if not closing["now"]:
            log.warning("nats.disconnected")

    async def on_reconnect() -> None:
        log.info("nats.reconnected")

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    nc = await nats.connect(
        nats_servers(settings.nats_url),  # a cluster's nodes: any one will do, the others are failovers
        name=f"tierline-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        # No buffering while disconnected: a publish then fails at once instead of being sent later,
        # after intake has already answered 503 (which would make the sender's retry a duplicate).
        pending_size=0,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )
    check_server_version(nc.connected_server_version, settings.nats_url)
    bus = Bus(nc=nc, js=nc.jetstream(timeout=10), prefix=settings.bus_prefix, settings=settings, closing=closing)
    await bus.declare_streams()
    return bus


MIN_SERVER = (2, 10)


def check_server_version(version: ServerVersion, url: str) -> None:
    """Refuse a nats-server older than 2.10: it ignores a consumer's `filter_subjects` without a word, so every
    service would be handed every event. Better one clear line at start than a silent misbehaviour."""
    found = (version.major, version.minor)
    if found < MIN_SERVER:
        raise RuntimeError(
            f"Tierline needs nats-server {MIN_SERVER[0]}.{MIN_SERVER[1]} or newer with JetStream; {url} runs "
            f"{version.major}.{version.minor}.{version.patch}. Upgrade it, or unset TIERLINE_NATS_URL and "
            "`tierline up` starts its own."
        )


def dead_letter_subject(bus: Bus, durable: str, subject: str) -> str:
    """`tierline_dlq.triage.tierline.alert.received.acme`: the consumer that gave up, then the original subject,
    so a consumer of dead letters can pick them by kind (triage's fallback takes every dead `alert.received`)."""
    return f"{bus.prefix}_dlq.{durable}.{subject}"


def consumer_config(bus: Bus, durable: str, subjects: list[str]) -> ConsumerConfig:
    s = bus.settings
    return ConsumerConfig(
        durable_name=durable,
        name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=s.ack_wait_s,
        max_deliver=MAX_DELIVER_BACKSTOP,
        filter_subjects=subjects,
        max_ack_pending=s.batch_size * 8,
    )
