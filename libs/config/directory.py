"""Who is who on call, across the provider and its tenants: every schedule by id with its owner, every person
by name, and the cross-checks `tierline config check` runs on them (a name is one person everywhere; a
tenant's schedule or step reaches provider people and its own, never another tenant's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from libs.config.oncall import Person, Schedule, step_target

if TYPE_CHECKING:
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


def check_directory(config: TierlineConfig) -> None:
    """Raise ValueError on the first on-call reference that cannot hold."""
    ids = [s.id for s in config.provider.schedules] + [s.id for t in config.tenants for s in t.schedules]
    if dupes := sorted({i for i in ids if ids.count(i) > 1}):
        raise ValueError(f"schedule ids must be unique across provider and tenants: {', '.join(dupes)}")
    names = [p.name for p in config.provider.people] + [p.name for t in config.tenants for p in t.people]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"people names must be unique across provider and tenants: {', '.join(dupes)}")
    d = Directory(config)
    provider_users = {a.user for a in config.provider.api_tokens}
    for p in config.provider.people:
        if p.user and p.user not in provider_users:
            raise ValueError(f"provider.people {p.name!r}: user {p.user!r} has no provider API token")
    for s in config.provider.schedules:
        _check_schedule(s, d.known_users(None), "provider")
    for t in config.tenants:
        for p in t.people:
            if p.user and p.user not in provider_users | {a.user for a in t.api_tokens}:
                raise ValueError(f"tenant {t.id}: person {p.name!r} names user {p.user!r}, who has no API token")
        for s in t.schedules:
            _check_schedule(s, d.known_users(t.id), f"tenant {t.id}")
        _check_steps(t, d)


def _check_schedule(s: Schedule, known: set[str], owner: str) -> None:
    if unknown := sorted(s.users - known):
        raise ValueError(f"{owner}: schedule {s.id!r} names unknown users: {', '.join(unknown)}")


def _check_steps(t: Tenant, d: Directory) -> None:
    policies = [t.escalation.steps] + [p.steps for p in t.escalation.categories.values()]
    for name in (n for steps in policies for step in steps for n in step.notify):
        kind, ref = step_target(name)
        if kind == "schedule" and d.schedule_for(t.id, ref) is None:
            raise ValueError(f"tenant {t.id}: escalation step names unknown schedule {ref!r}")
        if kind == "user" and d.person(t.id, ref) is None:
            raise ValueError(f"tenant {t.id}: escalation step pages {ref!r}, who is not in people (no contact methods)")
