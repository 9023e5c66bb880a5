"""A version's `config.applied` reaches the ledger even when its applier dies between storing the version and
publishing the event: the version keeps what the event says, and every process that takes it publishes it again
under the version's id (libs.config.live.recorded). Real NATS JetStream."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from libs.bus import connect_bus
from libs.config.apply import check_text
from libs.config.bucket import ConfigBucket, StoredConfig
from libs.config.diff import changes
from libs.config.live import start_live_config
from libs.events import utcnow
from libs.testing import stream_envelopes
from tests.libs.test_config_live import with_tenant


async def applied(settings, version: int, *, within: float = 10.0) -> list[dict]:
    """Every `config.applied` of `version` on the stream, once it has one (or after `within` seconds)."""
    async with asyncio.timeout(within):
        while not (found := [e.data for e in await stream_envelopes(settings, "config.applied")
                             if e.data["version"] == version]):  # fmt: skip
            await asyncio.sleep(0.2)
    return found


async def store_without_publishing(bucket: ConfigBucket, after: int) -> None:
    """What `apply` does up to its publish: the applier dies there."""
    checked = check_text(with_tenant(), "new.yaml")
    assert checked.config is not None
    stored = StoredConfig.of(checked.text, applied_by="ops", via="cli", at=utcnow(), previous=after,
                             changes=changes(None, checked.config))  # fmt: skip
    await bucket.put(stored, after=after)


async def test_a_running_process_publishes_the_event_its_dead_applier_did_not(settings):
    async with AsyncExitStack() as stack:
        one, two = [await start_live_config(stack, settings, n) for n in ("one", "two")]
        await store_without_publishing(one.bucket, after=1)  # type: ignore[arg-type]
        assert await one.reached(2) and await two.reached(2)
        [event] = await applied(settings, 2)
        await asyncio.sleep(1.0)  # both took it; still one event (its id is the version's)
        assert len(await applied(settings, 2)) == 1
    assert (event["version"], event["previous_version"], event["applied_by"], event["via"]) == (2, 1, "ops", "cli")
    assert "initech" in event["changes"]["tenants"]["added"]


async def test_a_process_started_after_the_applier_died_publishes_it(settings):
    async with AsyncExitStack() as stack:
        await start_live_config(stack, settings, "seeder")  # version 1, then every process is gone
    bus = await connect_bus(settings, name="applier")
    try:
        bucket = await ConfigBucket.open(bus.js, settings.bus_prefix)
        await store_without_publishing(bucket, after=1)
    finally:
        await bus.close()
    assert not [e for e in await stream_envelopes(settings, "config.applied") if e.data["version"] == 2]
    async with AsyncExitStack() as stack:
        live = await start_live_config(stack, settings, "later")
        assert live.snapshot.version == 2
        [event] = await applied(settings, 2)
    assert event["via"] == "cli" and "initech" in event["changes"]["tenants"]["added"]
