"""Reporting wiring: one consumer on every subject feeding the SLA event ledger, and the report API."""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from libs.auth import token_index
from libs.config import TierlineConfig
from libs.events import Envelope
from libs.runtime import open_resources, start_consumer
from libs.service import Command, ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from services.reporting.api import STATE, ReportingState, add_routes
from services.reporting.handlers import record
from services.reporting.live import refresher

NAME = "reporting"


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    app[STATE] = ReportingState(pool=res.pool, config=config, tokens=token_index(config))
    add_routes(app)

    async def handle(envs: list[Envelope]) -> None:
        await record(res.pool, envs)

    # Every subject under the prefix, not a list of types: the ledger must hold every event, alerts
    # included, and a type added later is recorded without touching reporting.
    await start_consumer(stack, res, durable=NAME, subjects=[f"{res.bus.prefix}.>"], handle=handle)
    gauges = refresher(res.pool)
    await gauges.start()
    stack.push_async_callback(gauges.stop)
    return app


def rebuild_command(settings: Settings) -> int:
    """`tierline reporting rebuild`: the ledger rebuilt from the event stream, beside a running stack."""
    from libs.logging import configure_logging
    from libs.supervisor import running_stack
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
SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/reports", "/v1/ledger/"), commands=COMMANDS)
