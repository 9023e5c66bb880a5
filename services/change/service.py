"""Change wiring: its tables and its HTTP API. It consumes nothing yet, so it runs no Consumer."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.runtime import open_resources
from libs.settings import Settings
from libs.web import create_app
from services.change.api import STATE, ChangeState, add_routes

NAME = "change"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ChangeState(pool=res.pool, outbox=res.outbox, config=config, tokens=token_index(config))
    add_routes(app)
    return app
