"""Checking a tierline.yaml completely, and applying it: the one path behind `tierline config apply`, SIGHUP to
`tierline up`, `POST /v1/config/reload` and a first start's seed (docs/configuration.md).

Applying stores the validated text as the next version in the config bucket (compare-and-set on the version it
read: of two concurrent applies one wins, the other gets ConfigConflict and nothing changes) and then publishes
`config.applied` once, with an id derived from the version, so a retried publish is stored once."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml
from pydantic import ValidationError

from libs.bus import Bus
from libs.config.bucket import ConfigBucket, ConfigConflict, StoredConfig, Version
from libs.config.diff import changes
from libs.config.tenant import TierlineConfig
from libs.contracts import PROVIDER_TENANT, ConfigApplied
from libs.events import event_for, utcnow

log = structlog.get_logger()
PUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class Problem:
    where: str  # the path in the file (`tenants.0.contract.sla.P2.resolve`), or what failed (`file`, `yaml`)
    message: str


@dataclass(frozen=True)
class Checked:
    """A file checked as `tierline config check` does: the config when valid, else every error with its path."""

    source: str
    text: str = ""
    config: TierlineConfig | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse(text: str) -> TierlineConfig:
    """A tierline.yaml's text, validated; raises yaml.YAMLError or pydantic.ValidationError."""
    return TierlineConfig.model_validate(yaml.safe_load(text) or {})


def check_text(text: str, source: str) -> Checked:
    try:
        config = parse(text)
    except yaml.YAMLError as exc:
        return Checked(source, text, errors=[Problem("yaml", f"not valid YAML: {exc}")])
    except ValidationError as exc:
        found = [
            Problem(".".join(str(p) for p in e["loc"]) or "(top level)", e["msg"].removeprefix("Value error, "))
            for e in exc.errors(include_url=False)
        ]
        return Checked(source, text, errors=found)
    # Valid, but a change could wait forever for a vote nobody may cast.
    warnings = [f"tenant {t.id}: {line}" for t in config.tenants for line in t.cab.quorum_warnings()]
    return Checked(source, text, config, warnings=warnings)


def check_file(path: Path) -> Checked:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        return Checked(str(path), errors=[Problem("file", f"cannot read it: {exc.strerror or exc}")])
    return check_text(text, str(path))


def who() -> str:
    """`user@host` of this process: who applied a version from a command line or a signal."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


@dataclass(frozen=True)
class Applied:
    version: int
    changed: bool  # False: the text was the version in force already; nothing was stored
    changes: dict[str, Any] = field(default_factory=dict)


async def apply(bucket: ConfigBucket, bus: Bus, checked: Checked, *, applied_by: str, via: str) -> Applied:
    """Store a valid config as the next version and publish `config.applied`; raises ConfigConflict if another
    apply stored a version since this one read the current one (or, for a seed, if one exists)."""
    assert checked.config is not None, "apply only what passed check_text"
    current = await bucket.current()
    if via == "seed" and current is not None:  # a seed fills an empty bucket, never replaces a version
        raise ConfigConflict(f"already seeded: version {current.number} is in force")
    if current is not None and current.stored.sha256 == hashlib.sha256(checked.text.encode()).hexdigest():
        return Applied(current.number, changed=False)
    diff = changes(_readable(current), checked.config)
    stored = StoredConfig.of(checked.text, applied_by=applied_by, via=via, at=utcnow(),
                             previous=current.number if current else None, changes=diff)  # fmt: skip
    number = await bucket.put(stored, after=current.number if current else 0)
    payload = applied_event(Version(number, stored))
    assert payload is not None, "a version stored here keeps its changes"
    await record(bus, payload)
    log.info("config.applied", version=number, via=via, applied_by=applied_by, sha256=stored.sha256[:12])
    return Applied(number, changed=True, changes=diff)


def applied_event(version: Version) -> ConfigApplied | None:
    """The `config.applied` of a stored version, built from what the version keeps (None: stored by an older
    Tierline, which kept no changes and published the event itself)."""
    s = version.stored
    if s.changes is None:
        return None
    return ConfigApplied.model_validate({
        "version": version.number, "previous_version": s.previous_version, "sha256": s.sha256,
        "applied_by": s.applied_by, "via": s.via, "applied_at": s.applied_at, "changes": s.changes,
    })  # fmt: skip


def _readable(version: Version | None) -> TierlineConfig | None:
    """The version before, to diff against (one this process cannot read counts as none: all shows as added)."""
    if version is None:
        return None
    try:
        return parse(version.stored.yaml)
    except (yaml.YAMLError, ValidationError):
        return None


async def record(bus: Bus, payload: ConfigApplied) -> None:
    """Publish `config.applied` (retried: its id is the version's, so JetStream keeps one within its duplicate
    window and the ledger one for good). The version is in force whatever happens here; each process that takes
    the version publishes it again (libs.config.live), so the applier's death does not lose its ledger line."""
    event_id = hashlib.sha256(f"{bus.stream}:config:{payload.version}".encode()).hexdigest()[:32]
    env = event_for(payload, source="config", tenant=PROVIDER_TENANT, subject=f"config-{payload.version}",
                    event_id=event_id)  # fmt: skip
    for attempt in range(1, PUBLISH_ATTEMPTS + 1):
        try:
            await bus.publish(env)
            return
        except Exception as exc:
            if attempt == PUBLISH_ATTEMPTS:
                log.error("config.applied_not_recorded", version=payload.version, error=repr(exc))
                return
            await asyncio.sleep(0.5 * attempt)
