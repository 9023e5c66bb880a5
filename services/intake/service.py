"""Intake wiring. Intake keeps no tables: an alert is accepted once JetStream has stored it."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import structlog
from aiohttp import web

from libs.bus import connect_bus
from libs.config import TierlineConfig
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.tasks import cancel_and_wait
from libs.web import READINESS, create_app
from services.intake.api import MAX_BODY, STATE, IntakeState, add_routes

NAME = "intake"
TRIAGE_CONSUMER = "triage"  # the consumer whose lag bounds what intake accepts
log = structlog.get_logger()


async def watch_lag(state: IntakeState, settings: Settings) -> None:
    """Poll triage's backlog; past either bound intake answers 503 + Retry-After instead of queueing more.

    Two bounds: how many alerts wait (TIERLINE_INTAKE_MAX_LAG) and how long the oldest one not yet taken has
    waited (TIERLINE_INTAKE_MAX_LAG_S). A stalled triage reaches the second within seconds at any rate; the
    count alone let a 20 s stall pile up 3,500 alerts without a word.
    """
    subject = state.bus.subject("alert.received")
    while True:
        try:
            state.lag, state.lag_s = await state.bus.backlog(TRIAGE_CONSUMER, subject)
            was = state.overloaded
            state.overloaded = state.lag > settings.intake_max_lag or state.lag_s > settings.intake_max_lag_s
            if was != state.overloaded:
                log.warning("intake.overload_changed", overloaded=state.overloaded, lag=state.lag, lag_s=state.lag_s)
        except Exception:  # consumer not created yet, or NATS reconnecting: keep accepting
            state.overloaded = False
        await asyncio.sleep(0.5)


async def build(stack: AsyncExitStack, settings: Settings, config: TierlineConfig) -> web.Application:
    app = create_app(client_max_size=MAX_BODY)
    bus = await connect_bus(settings, name=NAME)
    stack.push_async_callback(bus.close)
    state = IntakeState(bus=bus, config=config)
    app[STATE] = state
    add_routes(app)

    task = asyncio.create_task(watch_lag(state, settings))

    async def stop_watch() -> None:
        await cancel_and_wait(task)

    stack.push_async_callback(stop_watch)

    async def nats_ready() -> str | None:
        return None if bus.connected else "not connected to NATS"

    app[READINESS].append(("nats", nats_ready))
    return app


SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/webhooks/", "/v2/", "/openapi.json"))
