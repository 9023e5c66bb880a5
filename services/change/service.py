"""Change wiring: its tables, its HTTP API, its consumer (incidents, tools' change signals) and the timer
that publishes change windows as they start and end."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.runtime import consume, open_resources
from libs.settings import Settings
from libs.web import create_app
from services.change.api import add_routes
from services.change.api.context import STATE, ChangeState
from services.change.handlers import HANDLERS, make_apply
from services.change.windows import WindowTimer

NAME = "change"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ChangeState(pool=res.pool, outbox=res.outbox, config=config, tokens=token_index(config))
    add_routes(app)
    await consume(stack, res, durable=NAME, event_types=HANDLERS, apply=make_apply(config))
    timer = WindowTimer(res.pool, res.outbox, poll_s=settings.timer_poll_s)
    await timer.start()
    stack.push_async_callback(timer.stop)
    return app
