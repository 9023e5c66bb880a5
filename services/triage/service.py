"""Triage wiring: its consumer (alerts, escalation requests), its tables, its incident API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.consumer import Consumer
from libs.events import Envelope
from libs.outbox import handle_messages
from libs.runtime import open_resources
from libs.settings import Settings
from libs.web import create_app
from services.triage.api import STATE, TriageState, add_routes
from services.triage.handlers import HANDLERS, make_apply

NAME = "triage"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = TriageState(pool=res.pool, outbox=res.outbox, config=config, tokens=token_index(config))
    add_routes(app)
    apply = make_apply(config)

    async def handle(envs: list[Envelope]) -> None:
        await handle_messages(res.pool, res.outbox, envs, apply)

    consumer = Consumer(res.bus, NAME, [res.bus.subject(t) for t in HANDLERS], handle)
    await consumer.start()
    stack.push_async_callback(consumer.stop)
    return app
