"""Change wiring: its tables, its HTTP API, its consumer (incidents, tools' change signals) and the timer
that publishes change windows as they start and end."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.config.live import LiveConfig
from libs.runtime import consume, open_resources
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from libs.workers import start_workers
from services.change.api import add_routes
from services.change.api.context import STATE, ChangeState
from services.change.handlers import SUBSCRIPTIONS, lock_cis
from services.change.workers import window_timer

NAME = "change"


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ChangeState(pool=res.pool, outbox=res.outbox)
    add_routes(app)
    # The batch's CI locks come first, before any handler (handlers.lock_cis).
    # Links to changes are read by people minutes later: a background consumer, whose batches may grow.
    await consume(stack, res, durable=NAME, subscriptions=SUBSCRIPTIONS, deps=live.config, before=lock_cis,
                  background=True)  # fmt: skip
    await start_workers(stack, [window_timer(res.pool, res.outbox, poll_s=settings.timer_poll_s)])
    return app


SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/changes",))
