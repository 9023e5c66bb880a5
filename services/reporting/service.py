"""Reporting wiring: one consumer on every subject feeding the SLA event ledger, the live gauges, the report API.

`tierline reporting rebuild` (replaying the stream into a fresh ledger) is `rebuild.run`.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.runtime import consume, open_resources
from libs.settings import Settings
from libs.web import create_app
from libs.workers import start_workers
from services.reporting import rebuild
from services.reporting.api import STATE, ReportingState, add_routes
from services.reporting.handlers import record
from services.reporting.workers import live_gauges

NAME = "reporting"
COMMANDS = {"rebuild": rebuild.run}  # the CLI's `tierline reporting <command>`


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ReportingState(pool=res.pool, config=config, tokens=token_index(config))
    add_routes(app)
    await consume(stack, res, durable=NAME, sink=record)
    await start_workers(stack, [live_gauges(res.pool)])
    return app
