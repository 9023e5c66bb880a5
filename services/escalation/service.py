"""Escalation wiring: consumer of incident events, the deadline and step timers, the notification sender, the API."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.runtime import consume, open_resources
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from services.escalation.api import STATE, EscalationState, add_routes
from services.escalation.handlers import HANDLERS, make_apply
from services.escalation.policy import StepTimer
from services.escalation.sender import NotificationSender
from services.escalation.timer import DeadlineTimer

NAME = "escalation"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = EscalationState(pool=res.pool, tokens=token_index(config), config=config)
    add_routes(app)
    await consume(stack, res, durable=NAME, event_types=list(HANDLERS), apply=make_apply(config))
    for worker in (
        DeadlineTimer(res.pool, res.outbox, config, poll_s=settings.timer_poll_s),
        StepTimer(res.pool, res.outbox, config, poll_s=settings.timer_poll_s),
        NotificationSender(res.pool, res.outbox, config, settings),
    ):
        await worker.start()
        stack.push_async_callback(worker.stop)
    return app


SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/sla/",))
