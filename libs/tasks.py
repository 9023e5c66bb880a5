"""Stopping a background task so that it really stops."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

log = structlog.get_logger()


async def cancel_and_wait(task: asyncio.Task[None] | None, *, recancel_s: float = 1.0) -> None:
    """Cancel `task` and wait for it to finish, cancelling again if it shrugged the first one off.

    On Python 3.11 a library's `asyncio.wait_for` swallows a cancellation that arrives just as what it waits
    on completes (cpython gh-86296; nats-py and asyncpg both use it). A loop that lost its cancellation like
    that runs on, and a single cancel-then-await would wait for it forever; CI saw exactly that hang.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=recancel_s)
        if not done:
            log.warning("task.cancel_repeated", task=task.get_name())
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
