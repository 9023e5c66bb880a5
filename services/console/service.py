"""Console wiring: the pages and forms (Jinja2, autoescaped), sessions in its own schema, the upstream API
client, and one bus subscription fanned out to the connected tabs."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from libs.config.live import LiveConfig
from libs.runtime import open_resources
from libs.service import ServiceSpec
from libs.settings import Settings
from libs.web import create_app
from libs.workers import start_workers
from services.console.api import add_routes
from services.console.api.context import STATE, ConsoleState
from services.console.api.errors import html_errors
from services.console.api.filters import FILTERS
from services.console.api.security import security_headers
from services.console.api.sessions import find_session
from services.console.handlers import LiveHub, subscribe
from services.console.sealing import Sealer, stack_secret
from services.console.upstream import Upstream
from services.console.workers import workers

NAME = "console"
HERE = Path(__file__).resolve().parent


async def build(stack: AsyncExitStack, settings: Settings, live: LiveConfig) -> web.Application:
    app = create_app()
    app.middlewares.extend([find_session, html_errors])
    app.on_response_prepare.append(security_headers)
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.ChainableUndefined
    )
    env.filters.update(FILTERS)
    res = await open_resources(stack, app, settings, schema=NAME, migrations=HERE / "migrations")
    upstream = Upstream(settings)
    await upstream.start()
    stack.push_async_callback(upstream.close)
    hub = LiveHub()
    await hub.start()
    stack.push_async_callback(hub.stop)
    subscriptions = await subscribe(res.bus, hub)
    for sub in subscriptions:
        stack.push_async_callback(sub.unsubscribe)  # type: ignore[attr-defined]
    app[STATE] = ConsoleState(res.pool, Sealer(settings.console_secret), upstream, hub, settings)

    async def end_streams(_: web.Application) -> None:
        hub.close_all()

    app.on_shutdown.append(end_streams)
    await start_workers(stack, workers(res.pool))
    add_routes(app)
    return app


SERVICE = ServiceSpec(
    NAME, build, prefixes=("/console",), home="/console/", prepare=stack_secret,
    banner="console: {url}/console/  (sign in with an API token from tierline.yaml; the demo's are in README)",
)  # fmt: skip
