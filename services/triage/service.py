"""Triage wiring: its consumer (alerts, change windows, escalation requests, SLA news), its tables, its API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs import deadletters
from libs.auth import token_index
from libs.config import TierlineConfig
from libs.events import Envelope
from libs.outbox import handle_messages
from libs.runtime import Resources, consume, open_resources, start_consumer
from libs.settings import Settings
from libs.web import create_app
from services.triage import fallback
from services.triage.api import add_routes
from services.triage.closer import AutoCloser
from services.triage.handlers import HANDLERS, make_apply
from services.triage.release import Releaser
from services.triage.state import STATE, TriageState

NAME = "triage"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = TriageState(pool=res.pool, outbox=res.outbox, config=config, tokens=token_index(config))
    add_routes(app)
    deadletters.add_routes(app, res.bus, app[STATE].tokens)  # the stream's list and replay, served from here
    await consume(stack, res, durable=NAME, event_types=list(HANDLERS), apply=make_apply(config))
    await start_fallback(stack, res, config)
    # Closing is not urgent: look every few seconds (20 x the deadline timer's poll; a minute at most).
    closer = AutoCloser(res.pool, res.outbox, config, poll_s=min(60.0, settings.timer_poll_s * 20))
    await closer.start()
    stack.push_async_callback(closer.stop)
    # Held alerts fall due when their window ends: look as often as the deadline timers do.
    releaser = Releaser(res.pool, res.outbox, config, poll_s=settings.timer_poll_s)
    await releaser.start()
    stack.push_async_callback(releaser.stop)
    gauge = deadletters.gauge(res.bus)
    await gauge.start()
    stack.push_async_callback(gauge.stop)
    return app


async def start_fallback(stack: AsyncExitStack, res: Resources, config: TierlineConfig) -> None:
    """Dead-lettered alerts become incidents (services/triage/fallback.py); nothing further to dead-letter to."""
    apply = fallback.make_apply(config)

    async def handle(envs: list[Envelope]) -> None:
        await handle_messages(res.pool, res.outbox, envs, apply)

    await start_consumer(
        stack, res, durable=fallback.DURABLE, subjects=fallback.subjects(res.bus.prefix), handle=handle,
        check="deadletters", stream=res.bus.dead_letter_stream, decode=fallback.decode_letter, dead_letters=False,
    )  # fmt: skip
