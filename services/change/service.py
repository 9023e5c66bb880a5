"""Change wiring: its tables, its HTTP API, its consumer (incidents, tools' change signals) and the timer
that publishes change windows as they start and end."""

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
from services.change import actions, api
from services.change.handlers import HANDLERS, make_apply
from services.change.windows import WindowTimer

NAME = "change"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[api.STATE] = api.ChangeState(pool=res.pool, outbox=res.outbox, config=config, tokens=token_index(config))
    app.router.add_post("/v1/changes", api.create_change)
    app.router.add_get("/v1/changes", api.list_changes)
    app.router.add_get("/v1/changes/calendar", api.calendar)  # before {ref}, which would match it
    app.router.add_get("/v1/changes/{ref}", api.get_change)
    actions.add_routes(app)
    await consume(stack, res, durable=NAME, event_types=HANDLERS, apply=make_apply(config))
    timer = WindowTimer(res.pool, res.outbox, poll_s=settings.timer_poll_s)
    await timer.start()
    stack.push_async_callback(timer.stop)
    return app


SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/changes",))
