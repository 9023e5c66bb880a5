"""Wiring shared by every service: bus, pool, migrations, outbox relay, readiness, and the process runner."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from libs.bus import BatchHandler, Bus, connect_bus
from libs.config.live import start_live_config
from libs.consumer import Consumer, Probe
from libs.db import create_pool, migrate, pending_migrations
from libs.events import Envelope
from libs.logging import configure_logging
from libs.outbox import Outbox, prune_inbox
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.subscriptions import Before, Dispatcher, Sink, Subscriptions
from libs.subscriptions import event_types as types_of
from libs.tasks import cancel_and_wait
from libs.uow import handle_messages, unit_of_work
from libs.web import IDENTITY, LIVE, ORIGIN, READINESS, Runner, tls_context

log = structlog.get_logger()
SIGHUP_HINT = "send SIGHUP to `tierline up`, or run `tierline config apply FILE`"


@dataclass
class Resources:
    bus: Bus
    pool: asyncpg.Pool
    outbox: Outbox
    app: web.Application


async def open_resources(
    stack: AsyncExitStack, app: web.Application, settings: Settings, *, schema: str, migrations: Path | None
) -> Resources:
    """Connect the bus, open the schema's pool, migrate, start the outbox relay, register readiness checks.

    Everything is closed through `stack`, in reverse order, when the service stops.
    """
    bus = await connect_bus(settings, name=schema)
    stack.push_async_callback(bus.close)
    assert settings.database_url, "TIERLINE_DATABASE_URL must be set by the time a service starts"
    pool = await create_pool(settings.database_url, schema=schema)
    stack.push_async_callback(pool.close)
    mig_dir = migrations or Path("/nonexistent")
    await migrate(pool, schema=schema, migrations=mig_dir)
    outbox = Outbox(pool, bus)
    await outbox.start()
    stack.push_async_callback(outbox.stop)

    pruner = asyncio.create_task(_prune_inbox_hourly(pool, settings.inbox_retention_days))
    stack.push_async_callback(_cancel, pruner)

    async def nats_ready() -> str | None:
        return None if bus.connected else "not connected to NATS"

    async def db_ready() -> str | None:
        await pool.fetchval("SELECT 1")
        pending = await pending_migrations(pool, migrations=mig_dir)
        return f"migrations not applied: {pending}" if pending else None

    app[READINESS].extend([("nats", nats_ready), ("postgres", db_ready)])
    return Resources(bus=bus, pool=pool, outbox=outbox, app=app)


def postgres_probe(pool: asyncpg.Pool) -> Probe:
    """What a waiting consumer asks before it retries: can the pool run a query again?"""

    async def check() -> None:
        await pool.fetchval("SELECT 1")

    return ("PostgreSQL", check)


async def start_consumer(
    stack: AsyncExitStack,
    res: Resources,
    *,
    durable: str,
    subjects: list[str],
    handle: BatchHandler,
    check: str = "consumer",
    **options: Any,
) -> Consumer:
    """Start a durable consumer that waits out PostgreSQL and NATS outages; while it waits, /readyz fails
    with check `check` saying what for. `options` go to libs.consumer.Consumer (stream, decode, ...)."""
    consumer = Consumer(res.bus, durable, subjects, handle, probes=[postgres_probe(res.pool)], **options)
    await consumer.start()
    stack.push_async_callback(consumer.stop)
    res.app[READINESS].append((check, consumer.readiness))
    return consumer


async def consume(
    stack: AsyncExitStack,
    res: Resources,
    *,
    durable: str,
    subscriptions: Subscriptions[Any] | None = None,
    deps: Callable[[], Any] = lambda: None,
    sink: Sink[Any] | None = None,
    before: Before[Any] | None = None,
    **options: Any,
) -> Consumer:
    """Start a durable consumer for a subscriber table (libs.subscriptions): its subject filters come from the
    table, and each fetched batch is dispatched in one unit of work with its inbox marks and the events its
    handlers emit (after `before`, a step that sees the whole batch); `deps` is called once per batch for what
    the handlers are given (a service's `live.config`: the configuration version in force). With `sink` instead,
    every subject under the prefix reaches the sink unparsed, in one unit of work without the inbox (the sink's
    own table is its inbox: reporting's ledger). `options` go to start_consumer (another stream, a decoder, a
    readiness check)."""
    if sink is not None:
        subjects = [f"{res.bus.prefix}.>"]

        async def handle(envs: list[Envelope]) -> None:
            async with unit_of_work(res.pool, res.outbox) as tx:
                await sink(tx, envs, deps())

    else:
        assert subscriptions is not None, "consume needs a subscriber table or a sink"
        dispatch = Dispatcher(subscriptions, deps, before=before)
        subjects = options.pop("subjects", None) or [res.bus.subject(t) for t in types_of(subscriptions)]

        async def handle(envs: list[Envelope]) -> None:
            await handle_messages(res.pool, res.outbox, envs, dispatch)

    return await start_consumer(stack, res, durable=durable, subjects=subjects, handle=handle, **options)


async def _prune_inbox_hourly(pool: asyncpg.Pool, days: float) -> None:
    while True:
        try:
            if n := await prune_inbox(pool, older_than_days=days):
                log.info("inbox.pruned", forgotten=n)
        except Exception as exc:  # the database may be away; try again next hour
            log.warning("inbox.prune_failed", error=repr(exc))
        await asyncio.sleep(3600)


async def _cancel(task: asyncio.Task[None]) -> None:
    await cancel_and_wait(task)


async def serve(
    spec: ServiceSpec,
    settings: Settings,
    *,
    port: int,
    ready: asyncio.Event | None = None,
    on_started: Callable[[web.Application, int], None] | None = None,
) -> None:
    """Run one service's HTTP app until cancelled or signalled; resources close through one exit stack.

    `port` 0 binds any free port: the one bound is logged, written to `settings.port_file` (how `tierline up`
    learns it, only once the service listens) and passed to `on_started` with the app.
    """
    structlog.contextvars.bind_contextvars(service=spec.name)  # per task: right even with --one-process
    async with AsyncExitStack() as stack:
        # The configuration version in force, from the bus (seeded from TIERLINE_CONFIG on a first start).
        live = await start_live_config(stack, settings, spec.name)
        app = await spec.build(stack, settings, live)
        app[IDENTITY] = {"service": spec.name, "instance": settings.instance_id}
        app[LIVE] = live
        runner = Runner(app, access_log=None, handle_signals=False)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        tls = tls_context(settings.tls_cert_file, settings.tls_key_file)
        site = web.TCPSite(runner, settings.http_host, port, reuse_address=True, ssl_context=tls)
        await site.start()
        bound = int(runner.addresses[0][1])
        if (origin := app.get(ORIGIN)) is not None and not origin.url:
            origin.url = f"{'https' if tls else 'http'}://{settings.http_host}:{bound}"
        if settings.port_file:
            tell_port(settings.port_file, bound)
        log.info("service.started", port=bound, instance=settings.instance_id)
        if on_started:
            on_started(app, bound)
        if ready:
            ready.set()
        await asyncio.Event().wait()


def tell_port(path: Path, port: int) -> None:
    """Write the bound port where the supervisor looks for it, atomically: it never reads half a number."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)


def run_service(spec: ServiceSpec, settings: Settings | None = None) -> None:
    """Entry point of `tierline serve NAME` and of each process `tierline up` supervises."""
    settings = settings or Settings()
    configure_logging(spec.name, level=settings.log_level, fmt=settings.log_format)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()  # +30-50 % on the HTTP path, measured

    async def main() -> None:
        task = asyncio.current_task()
        assert task
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        # Nothing to reload here: a service follows the configuration on the bus. (A hangup of the terminal
        # `tierline up` runs in must not kill the services it reloads for.)
        loop.add_signal_handler(signal.SIGHUP, lambda: log.info("service.sighup_ignored", hint=SIGHUP_HINT))
        with contextlib.suppress(asyncio.CancelledError):
            await serve(spec, settings, port=settings.service_port)
        log.info("service.stopped")

    asyncio.run(main())
