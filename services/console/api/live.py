"""GET /console/events: one server-sent event stream per tab (aiohttp-sse), fed by the console's LiveHub."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp_sse import sse_response

from libs.errors import ApiError
from services.console.api.context import STATE, viewer_or_none
from services.console.events import LiveUpdate

PING_S = 15  # keeps proxies from closing an idle stream, and finds a tab that went away
RETRY_MS = 2000  # how soon the browser reconnects after a drop


async def events(request: web.Request) -> web.StreamResponse:
    v = viewer_or_none(request)
    if v is None:  # EventSource cannot follow a sign-in redirect: the page's script reloads instead
        return ApiError(401, "unauthenticated", "sign in first").response()  # the error shape, as every API's
    hub = request.app[STATE].hub
    listener = hub.connect(v.who)
    sse = None
    try:
        async with sse_response(request, ping_interval=PING_S, headers={"Cache-Control": "no-store"}) as sse:
            await sse.send(LiveUpdate().model_dump_json(), event="hello", retry=RETRY_MS)
            gone = asyncio.ensure_future(sse.wait())  # ends when a ping finds the tab gone
            while True:
                nxt = asyncio.ensure_future(listener.queue.get())
                await asyncio.wait({nxt, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()
                    break
                update = nxt.result()
                if update is None:  # the console is stopping
                    break
                await sse.send(update, event="update")  # serialised once per kind of viewer by the hub
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone
    except (ConnectionResetError, RuntimeError):  # the tab went away mid-write
        pass
    finally:
        hub.disconnect(listener)
    return sse if sse is not None else web.Response(status=204)
