"""The chaos suite's webhook target: answers 200 to every delivery and remembers each one, de-duplicating nothing,
so a notification sent twice is counted twice."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Receipt:
    target: str  # the receiver's path: one per tenant's target
    delivery: str  # Tierline-Delivery: the notification's id, the same on each retry of it
    trigger: str
    incident: str
    event: str  # the id of the event that caused it


@dataclass
class Receiver:
    """A webhook target that answers 200 to everything and remembers every delivery; it de-duplicates nothing."""

    receipts: list[Receipt] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.receipts.append(
            Receipt(request.path, request.headers.get("Tierline-Delivery", ""), body.get("trigger", ""),
                    str(body.get("incident", {}).get("id")), str(body.get("event", {}).get("id")))
        )  # fmt: skip
        return web.json_response({"ok": True})

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
