"""Configuration changes from the running stack itself: SIGHUP to `tierline up` re-reads its TIERLINE_CONFIG and
applies it as `tierline config apply` does (libs/config/apply.py); the log says the version or every error. And
at start, a line if the file differs from the version in force (the file seeds only an empty bucket)."""

from __future__ import annotations

import asyncio
import hashlib
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import structlog

from libs.bus import Bus, connect_bus
from libs.config.apply import apply, check_file, who
from libs.config.bucket import ConfigBucket, ConfigConflict
from libs.config.diff import describe
from libs.settings import Settings
from libs.tasks import cancel_and_wait

log = structlog.get_logger()


class Reloader:
    """One reload at a time; a SIGHUP during one runs another after it (the file may have changed again)."""

    def __init__(self, bucket: ConfigBucket, bus: Bus, path: Path) -> None:
        self.bucket, self.bus, self.path = bucket, bus, path
        self.task: asyncio.Task[None] | None = None
        self.again = False

    def trigger(self) -> None:
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.create_task(self._run(), name="config-reload")

    async def _run(self) -> None:
        while True:
            self.again = False
            await self.reload()
            if not self.again:
                return

    async def reload(self) -> None:
        checked = check_file(self.path)
        if checked.config is None:
            errors = [f"{p.where}: {p.message}" for p in checked.errors]
            log.error("config.reload_refused", file=str(self.path), errors=errors, hint="nothing changed")
            return
        try:
            done = await apply(self.bucket, self.bus, checked, applied_by=who(), via="sighup")
        except ConfigConflict as exc:
            log.error("config.reload_refused", file=str(self.path), error=str(exc), hint="nothing changed")
            return
        except Exception as exc:  # NATS away: the signal is not lost on the user, the log says so
            log.error("config.reload_failed", file=str(self.path), error=repr(exc))
            return
        changes = describe(done.changes) if done.changed else "unchanged"
        log.info("config.reloaded", file=str(self.path), version=done.version, changes=changes,
                    warnings=checked.warnings)  # fmt: skip


async def reload_on_sighup(stack: AsyncExitStack, settings: Settings) -> Reloader:
    """Apply settings.config on each SIGHUP until `stack` closes (settings with the stack's NATS URL)."""
    bus = await connect_bus(settings, name="tierline-up")
    stack.push_async_callback(bus.close)
    bucket = await ConfigBucket.open(bus.js, settings.bus_prefix, replicas=settings.stream_replicas)
    reloader = Reloader(bucket, bus, settings.config)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reloader.trigger)

    async def stop() -> None:
        loop.remove_signal_handler(signal.SIGHUP)
        await cancel_and_wait(reloader.task)

    stack.push_async_callback(stop)
    return reloader


async def drift(reloader: Reloader) -> str | None:
    """A line for the ready banner when TIERLINE_CONFIG is not the version in force (an edit not applied yet)."""
    current, checked = await reloader.bucket.current(), check_file(reloader.path)
    if current is None or current.stored.sha256 == hashlib.sha256(checked.text.encode()).hexdigest():
        return None
    by = current.stored.applied_by
    return (f"note: {reloader.path} is not the config in force (version {current.number}, applied by {by}); "
            f"apply it with `tierline config apply {reloader.path}` or SIGHUP")  # fmt: skip
