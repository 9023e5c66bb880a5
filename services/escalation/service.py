"""Escalation wiring: its consumer of incident events, its workers (deadlines, policy steps, handoffs,
notifications), its API (clocks, schedules, feeds, acknowledge links)."""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from libs.config.live import LiveConfig
from libs.runtime import consume, open_resources
from libs.secrets import kept_secret
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import ORIGIN, Origin, create_app
from libs.workers import start_workers
from services.escalation.api import STATE, EscalationState, add_routes
from services.escalation.handlers import SUBSCRIPTIONS
from services.escalation.workers.deadlines import deadline_timer
from services.escalation.workers.handoffs import handoff_worker
from services.escalation.workers.sender import notification_sender
from services.escalation.workers.steps import step_timer

NAME = "escalation"
HANDOFF_POLL_S = 1.0  # a handoff is paged within a second: no need to ask the database 5 times a second
log = structlog.get_logger()


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app()
    res = await open_resources(stack, app, settings, schema=NAME, migrations=Path(__file__).parent / "migrations")
    origin = app[ORIGIN] = Origin(settings.public_url or None)  # the listening URL, once bound, if no public one
    secret = settings.oncall_secret or new_oncall_secret()
    app[STATE] = EscalationState(pool=res.pool, outbox=res.outbox, oncall_secret=secret, origin=origin)
    add_routes(app)
    await consume(stack, res, durable=NAME, subscriptions=SUBSCRIPTIONS, deps=live.config)
    # The sender's HTTP session closes after the workers stop (the stack unwinds in reverse).
    timeout = aiohttp.ClientTimeout(total=settings.notify_timeout_s)
    http = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
    await start_workers(
        stack,
        [
            deadline_timer(res.pool, res.outbox, live, poll_s=settings.timer_poll_s),
            step_timer(res.pool, res.outbox, live, poll_s=settings.timer_poll_s),
            handoff_worker(res.pool, res.outbox, live, poll_s=max(settings.timer_poll_s, HANDOFF_POLL_S)),
            notification_sender(res.pool, res.outbox, live, settings, http, origin),
        ],
    )
    return app


def new_oncall_secret() -> str:
    # Without TIERLINE_ONCALL_SECRET (kept by `tierline up` in the data directory), feed URLs last one start.
    log.warning("escalation.no_oncall_secret", hint="set TIERLINE_ONCALL_SECRET so calendar feed URLs survive restarts")
    return secrets.token_urlsafe(32)


def oncall_secret_for_up(settings: Settings) -> dict[str, str]:
    """What `tierline up` hands escalation's processes: TIERLINE_ONCALL_SECRET, else a key kept in the data
    directory, so feed URLs work after restarts (and change when the file is deleted: every feed rotated)."""
    return {"oncall_secret": settings.oncall_secret or kept_secret(settings.data_dir, SECRET_FILE)}


SECRET_FILE = "oncall.secret"
SERVICE = ServiceSpec(NAME, build, prefixes=("/v1/sla/", "/v1/schedules", "/v1/ack/"), prepare=oncall_secret_for_up)
