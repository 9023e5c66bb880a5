"""Reporting wiring: one consumer on every subject feeding the SLA event ledger, the live gauges, the report API,
and the configuration's API (the versions are on its ledger).

`tierline reporting rebuild` (replaying the stream into a fresh ledger, rebuild.run) is its CLI command.
"""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.config.live import LiveConfig
from libs.runtime import consume, open_resources
from libs.service import Command, ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from libs.workers import start_workers
from services.reporting.api import STATE, ReportingState, add_routes
from services.reporting.api import config as config_api
from services.reporting.handlers import record
from services.reporting.workers import live_gauges

NAME = "reporting"


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ReportingState(pool=res.pool, config_file=settings.config)
    add_routes(app)
    config_api.add_routes(app)  # GET /v1/config, POST /v1/config/reload (docs/configuration.md)
    await consume(stack, res, durable=NAME, sink=record, background=True)  # a ledger: nobody waits on it
    await start_workers(stack, [live_gauges(res.pool)])
    return app


def rebuild_command(settings: Settings) -> int:
    """`tierline reporting rebuild`: the ledger rebuilt from the event stream, beside a running stack."""
    from libs.logging import configure_logging
    from libs.stackfile import running_stack
    from services.reporting.rebuild import run

    configure_logging("tierline", level="warning", fmt=settings.log_format)
    try:
        result = run(running_stack(settings))
    except RuntimeError as exc:
        print(f"tierline reporting rebuild: {exc}", file=sys.stderr)
        return 1
    print(
        f"ledger rebuilt from the stream in {result.seconds} s: {result.replayed} events replayed"
        f" ({result.rejected} rejected as breaking their contract), {result.carried_over} rows carried over"
        f" (older than the stream, or recorded meanwhile); {result.ledger_rows} ledger rows"
    )
    return 0


COMMANDS = {"rebuild": Command("replay the event stream from its start into a fresh SLA ledger", rebuild_command)}
SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/reports", "/v1/ledger/", "/v1/config"), commands=COMMANDS)
