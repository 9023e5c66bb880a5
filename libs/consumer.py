"""The fetch loop of a durable pull consumer: batches, explicit ack, bounded redelivery, dead letters, and
waiting out an infrastructure outage without spending a message's deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence

import nats
import structlog
from nats.aio.msg import Msg
from prometheus_client import Counter, Gauge

from libs.bus import MAX_DELIVER_BACKSTOP, BatchHandler, Bus, consumer_config, dead_letter_subject
from libs.events import Envelope
from libs.faults import Fault, classify
from libs.pull import deliveries, fetch
from libs.tasks import cancel_and_wait

log = structlog.get_logger()

HANDLED = Counter("tierline_messages_handled_total", "Bus messages handled", ["consumer", "outcome"])
DEAD_LETTERS = Counter("tierline_dead_letters_total", "Messages sent to the dead-letter stream", ["consumer"])
WAITING = Gauge("tierline_consumer_waiting", "1 while the consumer waits for PostgreSQL or NATS", ["consumer"])

# (name, check): the check raises while the dependency is unusable ("PostgreSQL", "NATS").
Probe = tuple[str, Callable[[], Awaitable[None]]]
Decode = Callable[[Msg], Envelope]
IMMEDIATE_RETRIES = 10  # deadlocks and serialization failures in a row before backing off like an outage


def decode_envelope(msg: Msg) -> Envelope:
    return Envelope.decode(msg.data)


class Consumer:
    """One fetch loop per durable consumer per process (two loops on one consumer hurt p99 tenfold).

    The whole fetched batch is handled in one call (one transaction). A failure is classified
    (libs/faults.py): a lost race is retried at once; an unreachable PostgreSQL or NATS (or any failure while
    a probe says one is unusable) makes the loop stop fetching, keep its batch (`in_progress`, so JetStream
    does not redeliver it meanwhile), back off and probe until healthy, then retry: that costs the messages
    nothing. Only a failure while everything is healthy is the message's: the batch is retried message by
    message so one poison message cannot hold back its neighbours, and a message that fails so
    `max_deliveries` times goes to the dead-letter stream with its error and is acknowledged.
    """

    def __init__(
        self,
        bus: Bus,
        durable: str,
        subjects: list[str],
        handle: BatchHandler,
        *,
        probes: Sequence[Probe] = (),
        stream: str | None = None,
        decode: Decode = decode_envelope,
        dead_letters: bool = True,
        background: bool = False,
    ) -> None:
        """`background`: nobody waits on this consumer's work within seconds (a ledger, links to changes), so
        after a small batch it waits TIERLINE_BACKGROUND_LINGER_MS instead of TIERLINE_BATCH_LINGER_MS."""
        self.bus, self.durable, self.handle, self.subjects = bus, durable, handle, subjects
        s = bus.settings
        self.linger = (s.background_linger_ms if background else s.batch_linger_ms) / 1000
        self.stream = stream or bus.stream
        self.decode, self.dead_letters = decode, dead_letters

        async def nats_ready() -> None:
            if not bus.connected:
                raise ConnectionError("not connected to NATS")

        self.probes: list[Probe] = [("NATS", nats_ready), *probes]
        self.waiting: str | None = None  # why the loop is waiting, for /readyz
        self._failures: dict[int, int] = {}  # stream sequence -> failures while healthy, in this process
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        cfg = consumer_config(self.bus, self.durable, self.subjects)
        await self.bus.js.add_consumer(self.stream, config=cfg)
        self._sub = await self.bus.js.pull_subscribe_bind(
            durable=self.durable, stream=self.stream, pending_msgs_limit=self.bus.settings.batch_size * 8
        )
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.durable}")

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._task)

    async def readiness(self) -> str | None:
        """For /readyz: None, or what the consumer is waiting for."""
        return self.waiting

    async def _run(self) -> None:
        batch, linger = self.bus.settings.batch_size, self.linger
        msgs: list[Msg] = []
        while not self._stopping:
            if linger and 0 < len(msgs) < batch:
                # Under a steady trickle each message was its own transaction (BEGIN, inbox, state, outbox,
                # COMMIT's fsync, relay): a short wait lets the next few share one (issue 17, README Performance).
                await asyncio.sleep(linger)
            msgs = []
            try:
                msgs = await fetch(self._sub, batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # connection flaps: the client reconnects, we keep pulling
                log.warning("consumer.fetch_failed", consumer=self.durable, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            try:
                await self._handle(msgs)
            except Exception as exc:  # an ack or dead-letter publish failed: unacked messages come back
                log.error("consumer.handle_failed", consumer=self.durable, error=repr(exc))
                await asyncio.sleep(0.5)

    async def _handle(self, msgs: list[Msg]) -> None:
        good: list[tuple[Msg, Envelope]] = []
        for msg in msgs:
            delivered = deliveries(msg)
            if delivered >= MAX_DELIVER_BACKSTOP - 1:  # the server would drop it silently after the next
                await self._give_up(msg, f"delivered {delivered} times without being settled (crashed its consumer?)")
                continue
            try:
                good.append((msg, self.decode(msg)))
            except Exception as exc:  # undecodable: retrying cannot help
                await self._give_up(msg, f"undecodable envelope: {exc}")
        if not good:
            return
        if await self._settle([m for m, _ in good], [env for _, env in good]) is None:
            for msg, _ in good:
                await msg.ack()
            HANDLED.labels(self.durable, "ok").inc(len(good))
            return
        log.warning("consumer.batch_failed", consumer=self.durable, size=len(good))
        for msg, env in good:
            await self._handle_alone(msg, env)

    async def _settle(self, msgs: list[Msg], envs: list[Envelope]) -> Exception | None:
        """Handle `envs` until it succeeds (None) or fails by the messages' fault (that exception); an
        infrastructure failure is waited out here, however long it lasts."""
        races = 0
        while True:
            try:
                await self.handle(envs)
                return None
            except Exception as exc:
                fault = await self._fault(exc)
                if fault == "message":
                    return exc
                races = races + 1 if fault == "retry_now" else IMMEDIATE_RETRIES + 1
                if races <= IMMEDIATE_RETRIES:
                    log.info("consumer.retrying_now", consumer=self.durable, error=repr(exc))
                    continue
                await self._wait_for_dependencies(msgs, exc)
                races = 0

    async def _fault(self, exc: Exception) -> Fault:
        fault = classify(exc)
        if fault == "message" and await self._unhealthy() is not None:
            return "dependency"  # it failed while a dependency is down: not evidence against the message
        return fault

    async def _unhealthy(self) -> str | None:
        for name, check in self.probes:
            try:
                async with asyncio.timeout(2):
                    await check()
            except Exception as exc:
                return f"{name}: {exc!r}"
        return None

    async def _wait_for_dependencies(self, msgs: list[Msg], exc: Exception) -> None:
        """Hold the batch, back off and probe until every dependency answers; `waiting` says why meanwhile."""
        started = time.monotonic()
        self.waiting = f"waiting for {await self._unhealthy() or f'a dependency: {exc!r}'}"
        WAITING.labels(self.durable).set(1)
        log.warning("consumer.waiting", consumer=self.durable, reason=self.waiting, held=len(msgs))
        delays = self.bus.settings.dependency_backoff_s
        try:
            for attempt in itertools.count():
                await self._sleep_holding(msgs, delays[min(attempt, len(delays) - 1)])
                problem = await self._unhealthy()
                if problem is None:
                    return
                self.waiting = f"waiting for {problem}"
        finally:
            self.waiting = None
            WAITING.labels(self.durable).set(0)
            log.info("consumer.resumed", consumer=self.durable, waited_s=round(time.monotonic() - started, 1))

    async def _sleep_holding(self, msgs: list[Msg], seconds: float) -> None:
        """Sleep, telling JetStream often enough (a third of ack wait) that the batch is still being worked on,
        so it is neither redelivered nor counted as delivered again."""
        step = max(0.05, self.bus.settings.ack_wait_s / 3)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for msg in msgs:
                with contextlib.suppress(Exception):  # NATS may be the one away: then it redelivers, harmlessly
                    await msg.in_progress()
            await asyncio.sleep(min(step, left))

    async def _handle_alone(self, msg: Msg, env: Envelope) -> None:
        # Alone, the message's ids go on every log line its handling writes.
        with structlog.contextvars.bound_contextvars(
            event_id=env.id, tenant=env.tenant, correlation_id=env.correlationid
        ):
            exc = await self._settle([msg], [env])
            seq = msg.metadata.sequence.stream
            if exc is None:
                self._failures.pop(seq, None)
                await msg.ack()
                HANDLED.labels(self.durable, "ok").inc()
                return
            failures = self._failures[seq] = self._failures.get(seq, 0) + 1
            log.error("consumer.message_failed", consumer=self.durable, failures=failures, error=repr(exc))
            if failures >= self.bus.settings.max_deliveries:
                self._failures.pop(seq, None)
                await self._give_up(msg, repr(exc), failures=failures)
                return
            if len(self._failures) > 10_000:  # messages another replica settled meanwhile; forget, not leak
                self._failures.clear()
            backoff = self.bus.settings.redelivery_backoff_s
            await msg.nak(delay=backoff[min(failures - 1, len(backoff) - 1)])
            HANDLED.labels(self.durable, "retried").inc()

    async def _give_up(self, msg: Msg, error: str, *, failures: int | None = None) -> None:
        if not self.dead_letters:  # the dead-letter stream's own consumer: there is nowhere further to put it
            log.critical("consumer.message_dropped", consumer=self.durable, subject=msg.subject, error=error)
            await msg.ack()
            HANDLED.labels(self.durable, "dropped").inc()
            return
        headers = {
            "Tierline-Error": error[:1000],
            "Tierline-Consumer": self.durable,
            "Tierline-Subject": msg.subject,
            "Tierline-Deliveries": str(failures or msg.metadata.num_delivered or 1),
        }
        await self.bus.js.publish(dead_letter_subject(self.bus, self.durable, msg.subject), msg.data, headers=headers)
        await msg.ack()
        HANDLED.labels(self.durable, "dead_lettered").inc()
        DEAD_LETTERS.labels(self.durable).inc()
        log.error("consumer.dead_lettered", consumer=self.durable, subject=msg.subject, error=error)
