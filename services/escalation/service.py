"""Escalation wiring: its consumer of incident events, its workers (deadlines, policy steps, notifications), its
API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
from aiohttp import web

from libs.config.live import LiveConfig
from libs.runtime import consume, open_resources
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from libs.workers import start_workers
from services.escalation.api import STATE, EscalationState, add_routes
from services.escalation.handlers import SUBSCRIPTIONS
from services.escalation.workers.deadlines import deadline_timer
from services.escalation.workers.sender import notification_sender
from services.escalation.workers.steps import step_timer

NAME = "escalation"


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = EscalationState(pool=res.pool)
    add_routes(app)
    await consume(stack, res, durable=NAME, subscriptions=SUBSCRIPTIONS, deps=live.config)
    # The sender's HTTP session closes after the workers stop (the stack unwinds in reverse).
    timeout = aiohttp.ClientTimeout(total=settings.notify_timeout_s)
    http = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
    await start_workers(
        stack,
        [
            deadline_timer(res.pool, res.outbox, live, poll_s=settings.timer_poll_s),
            step_timer(res.pool, res.outbox, live, poll_s=settings.timer_poll_s),
            notification_sender(res.pool, res.outbox, live, settings, http),
        ],
    )
    return app


SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/sla/",))
