"""Where the configuration in force lives: one key (`current`) in a JetStream key-value bucket, `<PREFIX>_CONFIG`.

Its value is the validated YAML text with its SHA-256, who applied it, how and when; its revision is the config
version, one number for every service. Writing is compare-and-set on the revision the writer read, so of two
concurrent applies one wins and the other is told (ConfigConflict); watching it is how services swap."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType
from nats.js.kv import KeyValue

KEY = "current"
HISTORY = 64  # the most JetStream keeps per key: the last versions, for whoever looks back


class ConfigConflict(RuntimeError):
    """Another apply changed the configuration since this one read it: nothing was written."""


@dataclass(frozen=True)
class StoredConfig:
    yaml: str
    sha256: str
    applied_by: str
    via: str  # seed (first start), cli, sighup, api
    applied_at: datetime
    # What its `config.applied` says beside the above, kept with the version so that any process that takes it can
    # publish that event again: the applier may die between storing and publishing (None: stored by a version
    # of Tierline that did not keep them, which published the event itself).
    previous_version: int | None = None
    changes: dict[str, Any] | None = None

    @classmethod
    def of(
        cls, text: str, *, applied_by: str, via: str, at: datetime, previous: int | None = None,
        changes: dict[str, Any] | None = None,
    ) -> StoredConfig:  # fmt: skip
        return cls(text, hashlib.sha256(text.encode()).hexdigest(), applied_by, via, at, previous, changes)

    def encode(self) -> bytes:
        return json.dumps(asdict(self) | {"applied_at": self.applied_at.isoformat()}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> StoredConfig:
        data = json.loads(raw)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}  # a newer writer's extra fields
        return cls(**known | {"applied_at": datetime.fromisoformat(data["applied_at"])})


@dataclass(frozen=True)
class Version:
    number: int  # the key-value revision
    stored: StoredConfig


class ConfigBucket:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, prefix: str, *, replicas: int = 1) -> ConfigBucket:
        """The bucket for this bus prefix, created on first use (creating an identical one again is harmless),
        with `replicas` copies (TIERLINE_STREAM_REPLICAS: one per node of a NATS cluster)."""
        name = f"{prefix.upper()}_CONFIG"
        try:
            kv = await js.key_value(name)
        except nats.js.errors.BucketNotFoundError:
            kv = await js.create_key_value(bucket=name, history=HISTORY, storage=StorageType.FILE, replicas=replicas)
        return cls(kv)

    async def current(self) -> Version | None:
        try:
            entry = await self.kv.get(KEY)
        except nats.js.errors.KeyNotFoundError:
            return None
        return Version(int(entry.revision or 0), StoredConfig.decode(entry.value or b"{}"))

    async def put(self, stored: StoredConfig, *, after: int) -> int:
        """Store `stored` as the version after `after` (0: only if there is none yet); its version number."""
        try:
            return int(await self.kv.update(KEY, stored.encode(), last=after))
        except nats.js.errors.KeyWrongLastSequenceError:
            raise ConfigConflict(f"the configuration changed since version {after} was read") from None

    async def watch(self) -> AsyncIterator[Version]:
        """Every version from the current one on, as it is stored (an ordered consumer: gaps are refetched)."""
        watcher = await self.kv.watch(KEY)
        try:
            async for entry in watcher:
                if entry is not None and entry.value:
                    yield Version(int(entry.revision or 0), StoredConfig.decode(entry.value))
        finally:
            with contextlib.suppress(nats.errors.Error):
                await watcher.stop()
