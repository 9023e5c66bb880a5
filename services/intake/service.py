"""Intake wiring: the webhook endpoints, the SMTP listener, the bus they store into, and the watch on triage's
backlog.

Intake keeps no tables (its store is the stream: store.py) and consumes nothing (handlers.py), so it opens no
pool and starts no consumer.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from aiohttp import web

from libs.bus import connect_bus
from libs.config.live import LiveConfig
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import READINESS, create_app
from libs.workers import start_workers
from services.intake.api import add_routes
from services.intake.api.gates import MAX_BODY, STATE, IntakeState
from services.intake.smtp import smtp_for_up, start_smtp
from services.intake.workers import backlog_watch

NAME = "intake"


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app(client_max_size=MAX_BODY)
    bus = await connect_bus(settings, name=NAME)
    stack.push_async_callback(bus.close)
    state = IntakeState(bus=bus, live=live)
    app[STATE] = state
    add_routes(app)
    await start_smtp(stack, state, settings)
    await start_workers(stack, [backlog_watch(bus, state.backlog, settings)])

    async def nats_ready() -> str | None:
        return None if bus.connected else "not connected to NATS"

    app[READINESS].append(("nats", nats_ready))
    return app


SERVICE = ServiceSpec(
    NAME, build, prefixes=("/v1/webhooks/", "/v2/", "/v1/heartbeats/", "/v1/recovery-tests",
                           "/v1/controls/"),
    prepare=smtp_for_up, banner="mail: smtp://{smtp_host}:{smtp_port}  (alerts and requests by e-mail: docs/email.md)",
)  # fmt: skip
