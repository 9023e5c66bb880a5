"""The payload of a configuration change: which version was applied, by whom, and what it changed, by name only
(never a key's or token's hash, never a secret). Published once, by whoever applied it (docs/configuration.md)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from libs.contracts.base import Contract

PROVIDER_TENANT = "_provider"  # the envelope tenant of provider-wide events: no tenant id can start with "_"


class NamesChanged(Contract):
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []


class KeysChanged(NamesChanged):
    revoked: list[str] = []  # still listed, newly `revoked: true`


class ConfigChanges(Contract):
    """Tenants by id; services and integration keys as `tenant/name` (`_provider/name` for a provider-wide key);
    API tokens by user; and whether anything else of the provider's section changed."""

    tenants: NamesChanged = NamesChanged()
    services: NamesChanged = NamesChanged()
    integration_keys: KeysChanged = KeysChanged()
    api_tokens: NamesChanged = NamesChanged()
    provider: bool = False


class ConfigApplied(Contract):
    """whoever applied it -> reporting (the ledger): a new configuration version every service swaps to."""

    TYPE: ClassVar[str] = "config.applied"

    version: int  # the key-value revision: the same number in every service
    previous_version: int | None = None
    sha256: str  # of the YAML text applied
    applied_by: str
    via: Literal["seed", "cli", "sighup", "api"]
    applied_at: datetime
    changes: ConfigChanges
