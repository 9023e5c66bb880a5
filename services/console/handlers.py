"""Live updates: one core NATS subscription per console process on the event subjects (JetStream's publishes
reach core subscribers too), fanned out to the connected tabs, each seeing only tenants its user may see.

Messages are gathered per tenant and sent every FLUSH_S as one SSE event per tab, so the work grows with the
number of tabs times flushes, not tabs times events: 200 tabs cost intake nothing it would notice.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog
from nats.aio.msg import Msg

from libs.auth import Principal
from libs.bus import Bus
from services.console.events import AREAS, LiveItem, LiveUpdate, live_item

log = structlog.get_logger()
FLUSH_S = 0.25
MAX_ITEMS = 40  # more in one flush: the tab reloads its list once instead of fetching each row
QUEUE_SIZE = 8


@dataclass(eq=False)
class Listener:
    """One connected tab."""

    who: Principal
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))  # JSON updates
    missed: bool = False  # its queue overflowed: the next update is a resync


class LiveHub:
    def __init__(self, *, flush_s: float = FLUSH_S, max_items: int = MAX_ITEMS) -> None:
        self.flush_s, self.max_items = flush_s, max_items
        self.listeners: set[Listener] = set()
        self.pending: dict[str, dict[str, LiveItem]] = {}  # tenant -> id -> latest item
        self._task: asyncio.Task[None] | None = None

    def connect(self, who: Principal) -> Listener:
        listener = Listener(who)
        self.listeners.add(listener)
        return listener

    def disconnect(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    def on_item(self, tenant: str, item: LiveItem) -> None:
        self.pending.setdefault(tenant, {})[f"{item.kind}:{item.id}"] = item

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        if not pending and not any(listener.missed for listener in self.listeners):
            return
        resync = LiveUpdate(resync=True).model_dump_json()
        by_view: dict[tuple[str | None, frozenset[str] | None], str | None] = {}  # one JSON per kind of viewer
        for listener in list(self.listeners):
            who = listener.who
            view = (who.tenant, who.scope)
            if view not in by_view:
                items = [i for t, by_id in pending.items() if who.can_see(t) for i in by_id.values()]
                too_many = len(items) > self.max_items
                by_view[view] = resync if too_many else LiveUpdate(items=items).model_dump_json() if items else None
            update = resync if listener.missed else by_view[view]
            if update is None:
                continue
            try:
                listener.queue.put_nowait(update)
                listener.missed = False
            except asyncio.QueueFull:  # a slow tab: it reloads its list once it reads again
                listener.missed = True

    def close_all(self) -> None:
        """The console is stopping: every open stream ends (the browsers reconnect to another replica)."""
        for listener in list(self.listeners):
            if listener.queue.full():  # make room for the end marker
                listener.queue.get_nowait()
            listener.queue.put_nowait(None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            self.flush()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def subscribe(bus: Bus, hub: LiveHub) -> list[object]:
    """SUBSCRIPTIONS: every subject of the areas a page shows (incident, sla, escalation, change)."""

    async def on_message(msg: Msg) -> None:
        if not hub.listeners:  # nobody is watching: not even worth decoding
            return
        found = live_item(msg.subject, msg.data, bus.prefix)
        if found:
            hub.on_item(*found)

    return [await bus.nc.subscribe(f"{bus.prefix}.{area}.>", cb=on_message) for area in AREAS]
