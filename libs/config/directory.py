"""Who is who on call, across the provider and its tenants: every schedule by id with its owner, every person
by name, and the cross-checks `tierline config check` runs on them (a name is one person everywhere; a
tenant's schedule or step reaches provider people and its own, never another tenant's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from libs.config.oncall import Person, Schedule, step_target

if TYPE_CHECKING:
    from libs.config.escalation import EscalationStep
    from libs.config.tenant import Tenant, TierlineConfig


@dataclass(frozen=True)
class ScheduleRef:
    schedule: Schedule
    tenant: str | None  # None: a provider schedule, shared by every tenant whose steps name it


class Directory:
    """The on-call index of one validated config (built once: TierlineConfig.directory)."""

    def __init__(self, config: TierlineConfig) -> None:
        self.schedules: dict[str, ScheduleRef] = {s.id: ScheduleRef(s, None) for s in config.provider.schedules}
        for t in config.tenants:
            self.schedules.update({s.id: ScheduleRef(s, t.id) for s in t.schedules})
        self._provider_people = {p.name: p for p in config.provider.people}
        self._tenant_people = {t.id: {p.name: p for p in t.people} for t in config.tenants}
        self._provider_users = {a.user for a in config.provider.api_tokens}
        self._tenant_users = {t.id: {a.user for a in t.api_tokens} for t in config.tenants}

    def people(self, tenant: str | None) -> dict[str, Person]:
        """The people reachable from `tenant`'s schedules and steps: the provider's and its own."""
        return self._provider_people | (self._tenant_people.get(tenant, {}) if tenant else {})

    def person(self, tenant: str | None, name: str) -> Person | None:
        """The person a schedule's or step's `name` is: by name, or by the API user a person names."""
        found = self.people(tenant)
        if name in found:
            return found[name]
        return next((p for p in found.values() if p.user == name), None)

    def known_users(self, tenant: str | None) -> set[str]:
        """Every name a schedule of `tenant` (None: the provider) may list."""
        users = set(self.people(tenant)) | self._provider_users
        return users | (self._tenant_users.get(tenant, set()) if tenant else set())

    def schedule_for(self, tenant: str, schedule_id: str) -> Schedule | None:
        """A schedule a step of `tenant` may page: its own, or the provider's."""
        ref = self.schedules.get(schedule_id)
        return ref.schedule if ref is not None and ref.tenant in (None, tenant) else None


Loc = tuple[str | int, ...]


def check_directory(config: TierlineConfig) -> None:
    """Every on-call reference that cannot hold, each at its own path (`provider.schedules.0.layers.1.users.2`)."""
    errors: list[InitErrorDetails] = []
    tenants = list(enumerate(config.tenants))
    schedules = [(("provider", "schedules", i), None, s) for i, s in enumerate(config.provider.schedules)]
    schedules += [(("tenants", n, "schedules", i), t, s) for n, t in tenants for i, s in enumerate(t.schedules)]
    people = [(("provider", "people", i), None, p) for i, p in enumerate(config.provider.people)]
    people += [(("tenants", n, "people", i), t, p) for n, t in tenants for i, p in enumerate(t.people)]
    everywhere = "must be unique across provider and tenants"
    _unique(errors, [((*loc, "id"), s.id) for loc, _, s in schedules], f"schedule ids {everywhere}")
    _unique(errors, [((*loc, "name"), p.name) for loc, _, p in people], f"people names {everywhere}")
    d = Directory(config)
    provider_users = {a.user for a in config.provider.api_tokens}
    for loc, tenant, p in people:
        users = provider_users | ({a.user for a in tenant.api_tokens} if tenant else set())
        if p.user and p.user not in users:
            errors.append(_error((*loc, "user"), f"{p.user!r} has no API token", p.user))
    for loc, tenant, s in schedules:
        _check_schedule(errors, loc, s, d.known_users(tenant.id if tenant else None))
    for n, t in tenants:
        _check_steps(errors, ("tenants", n, "escalation"), t, d)
    if errors:
        raise ValidationError.from_exception_data("TierlineConfig", errors)


def _error(loc: Loc, message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("reference", message), loc=loc, input=value)


def _unique(errors: list[InitErrorDetails], named: list[tuple[Loc, str]], message: str) -> None:
    seen: set[str] = set()
    for loc, name in named:
        if name in seen:
            errors.append(_error(loc, f"{message}: {name!r}", name))
        seen.add(name)


def _check_schedule(errors: list[InitErrorDetails], loc: Loc, s: Schedule, known: set[str]) -> None:
    for i, layer in enumerate(s.layers):
        for j, user in enumerate(layer.users):
            if user not in known:
                errors.append(_error((*loc, "layers", i, "users", j), _unknown(user), user))
    if s.fallback and s.fallback not in known:
        errors.append(_error((*loc, "fallback"), _unknown(s.fallback), s.fallback))


def _unknown(user: str) -> str:
    return f"unknown user {user!r} (a person of this schedule's scope, or an API token's user)"


def _check_steps(errors: list[InitErrorDetails], loc: Loc, t: Tenant, d: Directory) -> None:
    policies: list[tuple[Loc, list[EscalationStep]]] = [((*loc, "steps"), t.escalation.steps)]
    policies += [((*loc, "categories", c, "steps"), p.steps) for c, p in t.escalation.categories.items()]
    for where, steps in policies:
        for i, step in enumerate(steps):
            for j, name in enumerate(step.notify):
                kind, ref = step_target(name)
                if kind == "schedule" and d.schedule_for(t.id, ref) is None:
                    message = f"unknown schedule {ref!r} (its own or a provider schedule)"
                    errors.append(_error((*where, i, "notify", j), message, name))
                if kind == "user" and d.person(t.id, ref) is None:
                    message = f"pages {ref!r}, who is not in people (no contact methods to page)"
                    errors.append(_error((*where, i, "notify", j), message, name))
