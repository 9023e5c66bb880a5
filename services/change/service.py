"""Change wiring: its tables, its HTTP API, its consumer (incidents, tools' change signals) and the timer
that publishes change windows as they start and end."""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.runtime import open_resources, start_consumer
from libs.settings import Settings
from libs.subscriptions import event_types
from libs.uow import handle_messages
from libs.web import create_app
from libs.workers import start_workers
from services.change.api import add_routes
from services.change.api.context import STATE, ChangeState
from services.change.handlers import SUBSCRIPTIONS, locked_dispatch
from services.change.workers import window_timer

NAME = "change"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ChangeState(pool=res.pool, outbox=res.outbox, config=config, tokens=token_index(config))
    add_routes(app)
    # libs.runtime.consume(subscriptions=...) with a step before the table's handlers: the batch's CI locks
    # (handlers.locked_dispatch), which no single handler can take, as each sees only its own event type.
    subjects = [res.bus.subject(t) for t in event_types(SUBSCRIPTIONS)]
    handle = partial(handle_messages, res.pool, res.outbox, apply=locked_dispatch(config))
    await start_consumer(stack, res, durable=NAME, subjects=subjects, handle=handle)
    await start_workers(stack, [window_timer(res.pool, res.outbox, poll_s=settings.timer_poll_s)])
    return app
