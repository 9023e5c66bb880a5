"""The configuration in force in this process, swapped whole when a new version is applied (docs/configuration.md).

Each version is one immutable ConfigSnapshot: the validated TierlineConfig and everything derived from it (the API
token index; the config's own indexes of keys, tenants, mail addresses and tiers, built here once). An HTTP request
takes the snapshot once when it starts (libs.web), a consumed batch once per batch (libs.subscriptions), a worker
tick once per tick: nothing is handled half by one version and half by another. A new version comes from the
config bucket's watch (a poll every few seconds backs the watch up) and is swapped in by one assignment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import structlog
import yaml
from prometheus_client import Gauge
from pydantic import ValidationError

from libs.auth import Principal, token_index
from libs.bus import Bus, connect_bus
from libs.config.apply import applied_event, apply, check_file, parse, record, who
from libs.config.bucket import ConfigBucket, ConfigConflict, StoredConfig, Version
from libs.config.tenant import TierlineConfig
from libs.settings import Settings
from libs.tasks import cancel_and_wait

log = structlog.get_logger()
VERSION = Gauge("tierline_config_version", "The configuration version this process runs with", ["service"])
POLL_S = 5.0  # the watch's back-up: a version missed while NATS was away is found within this


@dataclass(frozen=True)
class ConfigSnapshot:
    version: int  # 0: a config given directly, not from the bucket (tests)
    config: TierlineConfig
    tokens: Mapping[str, Principal]
    stored: StoredConfig | None = field(default=None, repr=False)

    @classmethod
    def of(cls, config: TierlineConfig, *, version: int = 0, stored: StoredConfig | None = None) -> ConfigSnapshot:
        _ = (config.integration_keys, config.tenants_by_id, config.mail_routes, config.tiers)  # built once, here
        return cls(version, config, MappingProxyType(token_index(config)), stored)

    def about(self) -> dict[str, Any]:
        """What GET /v1/config and the logs say of it: never the text, a key or a token."""
        s = self.stored
        return {"version": self.version, "sha256": s.sha256 if s else None, "applied_at": s.applied_at if s else None,
                "applied_by": s.applied_by if s else None, "via": s.via if s else None}  # fmt: skip


class LiveConfig:
    """This process's configuration now. `snapshot` is the whole version; `config()` its TierlineConfig, taken at
    the moment of the call (a worker calls it once per tick, a dispatcher once per batch)."""

    def __init__(
        self, first: ConfigSnapshot, *, service: str = "", bucket: ConfigBucket | None = None, bus: Bus | None = None
    ) -> None:
        self._current, self.service, self.bucket, self.bus = first, service, bucket, bus
        self._changed = asyncio.Event()
        self.refused: int | None = None  # the last version this process could not read (see `follow`)
        self.recorded = 0  # the newest version whose `config.applied` this process has published (see `follow`)
        VERSION.labels(service).set(first.version)

    @classmethod
    def fixed(cls, config: TierlineConfig) -> LiveConfig:
        """A config that never changes (tests, tools)."""
        return cls(ConfigSnapshot.of(config))

    @property
    def snapshot(self) -> ConfigSnapshot:
        return self._current

    def config(self) -> TierlineConfig:
        return self._current.config

    def offer(self, snapshot: ConfigSnapshot) -> bool:
        """Swap to `snapshot` if it is newer than the one in force."""
        if snapshot.version <= self._current.version:
            return False
        self._current = snapshot
        VERSION.labels(self.service).set(snapshot.version)
        self._changed.set()
        self._changed = asyncio.Event()
        log.info("config.swapped", version=snapshot.version, applied_by=snapshot.stored and snapshot.stored.applied_by)
        return True

    async def reached(self, version: int, *, timeout: float = 5.0) -> bool:
        """Wait until this process runs `version` or a later one (False after `timeout`)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._current.version < version:
                    await self._changed.wait()
        return self._current.version >= version


def take(live: LiveConfig, version: Version) -> None:
    """Swap to `version` if newer; one this process cannot read (a secret's environment variable missing here)
    is refused with a log line, and the one in force stays."""
    if version.number <= live.snapshot.version or version.number == live.refused:
        return
    try:
        config = parse(version.stored.yaml)
    except (yaml.YAMLError, ValidationError) as exc:
        live.refused = version.number
        log.error("config.version_refused", version=version.number, error=str(exc)[:2000])
        return
    live.offer(ConfigSnapshot.of(config, version=version.number, stored=version.stored))


async def recorded(live: LiveConfig) -> None:
    """Publish the `config.applied` of the version in force unless this process already has: the applier may
    have died between storing the version and publishing it. Every process does it once per version it takes;
    the event's id is the version's, so JetStream and the ledger keep one."""
    snapshot = live.snapshot
    if live.bus is None or snapshot.stored is None or snapshot.version <= live.recorded:
        return
    if (payload := applied_event(Version(snapshot.version, snapshot.stored))) is not None:
        await record(live.bus, payload)
    live.recorded = snapshot.version


async def follow(live: LiveConfig) -> None:
    """Watch the bucket for new versions for as long as the service runs; poll it too, in case a watch went quiet."""
    assert live.bucket is not None

    async def watching() -> None:
        assert live.bucket is not None
        while True:
            with contextlib.suppress(Exception):  # NATS away or the watch dropped: watch again
                async for version in live.bucket.watch():
                    take(live, version)
                    await recorded(live)
            await asyncio.sleep(1.0)

    watch = asyncio.create_task(watching())
    try:
        while True:
            with contextlib.suppress(Exception):
                if (version := await live.bucket.current()) is not None:
                    take(live, version)
                await recorded(live)  # the version this process started with too
            await asyncio.sleep(POLL_S)
    finally:
        await cancel_and_wait(watch)


async def start_live_config(stack: AsyncExitStack, settings: Settings, service: str) -> LiveConfig:
    """The version in force from the config bucket, followed until `stack` closes. An empty bucket (the stack's
    first start) is seeded from TIERLINE_CONFIG: the first service to get there stores version 1 and publishes
    its `config.applied`; the others read it. An unusable file stops the start, as it always did."""
    bus = await connect_bus(settings, name=f"{service}-config")
    stack.push_async_callback(bus.close)
    bucket = await ConfigBucket.open(bus.js, settings.bus_prefix, replicas=settings.stream_replicas)
    version = await bucket.current() or await _seed(bucket, bus, settings, service)
    live = LiveConfig(ConfigSnapshot.of(parse(version.stored.yaml), version=version.number, stored=version.stored),
                      service=service, bucket=bucket, bus=bus)  # fmt: skip
    task = asyncio.create_task(follow(live), name=f"config-follow:{service}")
    stack.push_async_callback(cancel_and_wait, task)
    return live


async def _seed(bucket: ConfigBucket, bus: Bus, settings: Settings, service: str) -> Version:
    checked = check_file(settings.config)
    if checked.config is None:
        lines = "; ".join(f"{p.where}: {p.message}" for p in checked.errors)
        raise RuntimeError(f"{settings.config}: cannot seed the configuration: {lines}")
    with contextlib.suppress(ConfigConflict):  # another service seeded it first: read theirs
        await apply(bucket, bus, checked, applied_by=who(), via="seed")
    found = await bucket.current()
    assert found is not None, "the bucket was just seeded"
    return found
