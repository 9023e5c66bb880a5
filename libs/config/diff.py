"""What a new configuration changes against the one before it, by name only: tenants, services, integration keys,
API tokens, on-call schedules and people added, removed or changed. Never a hash or a secret: this goes on the
ledger (config.applied)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from libs.config.tenant import TierlineConfig

PROVIDER = "_provider"  # how a provider-wide key is named: `_provider/<name>` (no tenant id starts with "_")


def _names(old: Mapping[str, BaseModel], new: Mapping[str, BaseModel]) -> dict[str, list[str]]:
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(n for n in set(old) & set(new) if old[n].model_dump() != new[n].model_dump()),
    }


def _services(c: TierlineConfig) -> dict[str, BaseModel]:
    return {f"{t.id}/{s.id}": s for t in c.tenants for s in t.services}


def _keys(c: TierlineConfig) -> dict[str, Any]:
    keys = {f"{t.id}/{k.name}": k for t in c.tenants for k in t.integration_keys}
    return keys | {f"{PROVIDER}/{k.name}": k for k in c.provider.integration_keys}


def _tokens(c: TierlineConfig) -> dict[str, BaseModel]:
    return {a.user: a for a in c.provider.api_tokens} | {a.user: a for t in c.tenants for a in t.api_tokens}


def _schedules(c: TierlineConfig) -> dict[str, BaseModel]:
    return {ref.schedule.id: ref.schedule for ref in c.directory.schedules.values()}


def _people(c: TierlineConfig) -> dict[str, BaseModel]:
    return {p.name: p for p in c.provider.people} | {p.name: p for t in c.tenants for p in t.people}


def changes(old: TierlineConfig | None, new: TierlineConfig) -> dict[str, Any]:
    """The diff summary of `new` against `old` (None: the first version, everything added)."""
    before = old or TierlineConfig(tenants=[])
    keys_old, keys_new = _keys(before), _keys(new)
    keys = _names(keys_old, keys_new) | {
        "revoked": sorted(n for n, k in keys_new.items() if k.revoked and n in keys_old and not keys_old[n].revoked)
    }
    bare = {"integration_keys", "api_tokens", "schedules", "people"}  # compared on their own above
    return {
        "tenants": _names(before.tenants_by_id, new.tenants_by_id),
        "services": _names(_services(before), _services(new)),
        "integration_keys": keys,
        "api_tokens": _names(_tokens(before), _tokens(new)),
        "schedules": _names(_schedules(before), _schedules(new)),
        "people": _names(_people(before), _people(new)),
        "provider": before.provider.model_dump(exclude=bare) != new.provider.model_dump(exclude=bare),
    }


def describe(diff: dict[str, Any]) -> str:
    """The diff in one line for a person: `tenants added: initech; integration keys revoked: acme/old`."""
    parts = []
    for group in ("tenants", "services", "integration_keys", "api_tokens", "schedules", "people"):
        for what, names in diff.get(group, {}).items():
            if names:
                parts.append(f"{group.replace('_', ' ')} {what}: {', '.join(names)}")
    if diff.get("provider"):
        parts.append("provider settings changed")
    return "; ".join(parts) or "no tenant, service, key or token changed"
