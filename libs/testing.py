"""Test support shared by the suite and the benchmark: real servers, fresh namespaces, services in-process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from libs.bus import connect_bus
from libs.events import Envelope
from libs.localstack import LocalNats, LocalPostgres
from libs.runtime import serve
from libs.service import ServiceSpec
from libs.settings import Settings


@dataclass
class Servers:
    nats_url: str
    admin_db_url: str  # a database we may CREATE DATABASE from


@contextlib.asynccontextmanager
async def servers(tmp: Path) -> AsyncIterator[Servers]:
    """The NATS and PostgreSQL named by TIERLINE_NATS_URL / TIERLINE_DATABASE_URL, else our own temporary ones."""
    nats_url, db_url = os.environ.get("TIERLINE_NATS_URL"), os.environ.get("TIERLINE_DATABASE_URL")
    async with contextlib.AsyncExitStack() as stack:
        if not nats_url:
            nats = LocalNats()
            nats_url = await nats.start(tmp / "nats")
            stack.push_async_callback(nats.stop)
        if not db_url:
            pg = LocalPostgres()
            db_url = await pg.start(tmp / "pg", fast=True)
            stack.push_async_callback(pg.stop)
        yield Servers(nats_url=nats_url, admin_db_url=db_url)


async def fresh_database(admin_url: str) -> tuple[str, str]:
    """CREATE DATABASE with a unique name; returns (url, name)."""
    name = "t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}", name


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def fresh_settings(srv: Servers, db_url: str, config: Path, **overrides: object) -> Settings:
    """Settings with a unique bus prefix, so each test has its own streams and consumers."""
    values: dict[str, object] = {
        "nats_url": srv.nats_url,
        "database_url": db_url,
        "config": config,
        "bus_prefix": "t" + uuid.uuid4().hex[:10],
        "stream_max_age_days": 1,
        "redelivery_backoff_s": [0.1, 0.2, 0.3],
        "timer_poll_s": 0.05,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


STOP_TIMEOUT_S = 30


class RunningService:
    """One service served in this event loop on a port it binds (what `tierline up --one-process` does)."""

    def __init__(self, spec: ServiceSpec, settings: Settings) -> None:
        self.spec, self.name, self.settings = spec, spec.name, settings
        self.port = 0  # known once started: the service binds a free port itself, so no other process can take it
        self.scheme = "https" if settings.tls_cert_file and settings.tls_key_file else "http"
        self.app: web.Application | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def routes(self) -> list[tuple[str, str]]:
        """(method, path template) of every route the running service serves, e.g. ("GET", "/v1/incidents/{ref}"):
        for tests that must cover each endpoint without anyone listing them."""
        assert self.app is not None, "start() first"
        out = []
        for route in self.app.router.routes():
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter")
            if path and route.method != "HEAD":
                out.append((route.method, path))
        return out

    def _started(self, app: web.Application, port: int) -> None:
        self.app, self.port = app, port

    async def start(self) -> RunningService:
        ready = asyncio.Event()
        self._task = asyncio.create_task(serve(self.spec, self.settings, port=0, ready=ready, on_started=self._started))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self._task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            self._task.result()  # raises the start-up error
        if not ready.is_set():
            raise TimeoutError(f"{self.name} did not start")
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT_S)
            if not done:  # a stuck shutdown fails the test with every task's stack, instead of hanging the run
                for task in asyncio.all_tasks():
                    task.print_stack(file=sys.stderr)
                raise RuntimeError(f"{self.name} did not stop within {STOP_TIMEOUT_S} s; task stacks on stderr")
            with contextlib.suppress(asyncio.CancelledError):
                self._task.result()


async def _within(wait_s: float, check: Callable[[], Awaitable[bool]]) -> bool:
    """Poll `check` every 20 ms until it holds (True) or `wait_s` has passed (False)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def outboxes_drained(settings: Settings, *, wait_s: float = 10.0) -> bool:
    """Wait until every service's outbox in this test's database is empty: what was committed is on the bus.

    An API answers once its transaction commits; the relay publishes a moment later. Reading the stream
    before that misses the newest events. Gives up after `wait_s` (a stopped service's rows stay) and says so.
    """
    if not settings.database_url:
        return True
    conn = await asyncpg.connect(settings.database_url)
    try:
        schemas = await conn.fetch("SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'")
        query = " + ".join(f'(SELECT count(*) FROM "{r["table_schema"]}".outbox)' for r in schemas) or "0"

        async def empty() -> bool:
            return not await conn.fetchval(f"SELECT {query}")

        return await _within(wait_s, empty)
    finally:
        await conn.close()


async def consumer_caught_up(settings: Settings, durable: str, *, wait_s: float = 10.0) -> bool:
    """Wait until the durable consumer `durable` (a service's name) has handled and acknowledged everything on
    its subjects: for a test that must know an event was handled when handling it publishes nothing."""
    bus = await connect_bus(settings, name="probe")
    try:

        async def idle() -> bool:
            info = await bus.js.consumer_info(bus.stream, durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        return await _within(wait_s, idle)
    finally:
        await bus.close()


async def stream_envelopes(settings: Settings, prefix: str = "") -> list[Envelope]:
    """Every event on this test's stream whose short type starts with `prefix`, in stream order, once what the
    services committed has been relayed (see outboxes_drained).

    Read by sequence number, so nothing is consumed and no consumer is left behind.
    """
    await outboxes_drained(settings)
    bus = await connect_bus(settings, name="probe")
    try:
        state = (await bus.js.stream_info(bus.stream)).state
        out = []
        for seq in range(state.first_seq or 1, state.last_seq + 1):
            env = Envelope.decode((await bus.js.get_msg(bus.stream, seq)).data)
            if env.short_type.startswith(prefix):
                out.append(env)
        return out
    finally:
        await bus.close()


async def dead_letter_count(settings: Settings) -> int:
    """How many messages this test's dead-letter stream holds."""
    bus = await connect_bus(settings, name="probe")
    try:
        return (await bus.js.stream_info(bus.dead_letter_stream)).state.messages
    finally:
        await bus.close()


async def run_handler(handler: Any, conn: Any, envelopes: list[Envelope], deps: Any = None) -> list[Envelope]:
    """Run one subscriber-table handler on `conn` as the dispatcher would (payloads parsed into their
    contracts) and return the events it emitted: for tests of a handler against a real database."""
    from libs.subscriptions import as_message
    from libs.uow import Tx

    tx = Tx(conn)
    await handler(tx, [as_message(e) for e in envelopes], deps)
    return tx.events


async def apply_config(settings: Settings, path: Path, *, applied_by: str = "test") -> int:
    """Apply the tierline.yaml at `path` to this test's stack as `tierline config apply` does; the version it got."""
    from libs.config.apply import apply, check_file
    from libs.config.bucket import ConfigBucket

    checked = check_file(path)
    assert checked.config is not None, checked.errors
    bus = await connect_bus(settings, name="config-apply")
    try:
        bucket = await ConfigBucket.open(bus.js, settings.bus_prefix, replicas=settings.stream_replicas)
        done = await apply(bucket, bus, checked, applied_by=applied_by, via="cli")
        return done.version
    finally:
        await bus.close()
