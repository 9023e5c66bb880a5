"""Triage wiring: its tables, its API, its consumers (the bus, and the dead letters of alerts) and its workers."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs import deadletters
from libs.config.live import LiveConfig
from libs.deadletters import letter_event
from libs.runtime import consume, open_resources
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from libs.workers import start_workers
from services.triage.api import PREFIXES, add_routes
from services.triage.api.state import STATE, TriageState
from services.triage.handlers import DEAD_LETTERS, SUBSCRIPTIONS
from services.triage.workers import workers

NAME = "triage"
DEAD_LETTER_DURABLE = "triage-deadletters"


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = TriageState(pool=res.pool, outbox=res.outbox)
    add_routes(app, res.bus)
    await consume(stack, res, durable=NAME, subscriptions=SUBSCRIPTIONS, deps=live.config)
    # Dead-lettered alerts become incidents (domain/fallback.py); there is nothing further to dead-letter to.
    await consume(
        stack, res, durable=DEAD_LETTER_DURABLE, subscriptions=DEAD_LETTERS, deps=live.config, check="deadletters",
        subjects=[f"{res.bus.prefix}_dlq.*.{res.bus.prefix}.alert.received.*"], stream=res.bus.dead_letter_stream,
        decode=letter_event, dead_letters=False,
    )  # fmt: skip
    await start_workers(stack, [*workers(res, live, poll_s=settings.timer_poll_s), deadletters.gauge(res.bus)])
    return app


SERVICE = ServiceSpec(NAME, build, prefixes=PREFIXES)
