"""cancel_and_wait stops a task even when a library swallowed the first cancellation (Python 3.11 wait_for)."""

from __future__ import annotations

import asyncio

from libs.tasks import cancel_and_wait


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again() -> None:
    swallowed = asyncio.Event()

    async def loop_that_loses_a_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()  # what 3.11's wait_for does when the awaited thing completes at the same moment
        await asyncio.sleep(3600)  # ...and the loop runs on

    task = asyncio.create_task(loop_that_loses_a_cancel())
    await asyncio.sleep(0)
    async with asyncio.timeout(30):  # a hang guard, not a speed claim
        await cancel_and_wait(task, recancel_s=0.05)
    assert swallowed.is_set()
    assert task.cancelled()


async def test_a_task_that_already_finished_or_none_is_fine() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    await cancel_and_wait(task)
    await cancel_and_wait(None)
