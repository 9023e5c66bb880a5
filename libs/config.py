"""Configuration as code: tenants, contracts, CIs, integration keys, escalation policies, tokens (tierline.yaml)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Priority = Literal["P1", "P2", "P3", "P4", "P5"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4", "P5")
Category = Literal["infrastructure", "network", "security", "cloud", "end-user", "data", "compliance"]
Criticality = Literal["critical", "high", "medium", "low"]
Role = Literal["provider_admin", "engineer", "change_manager", "cab_member", "client_viewer", "client_approver"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: object) -> timedelta:
    """`15m`, `4h`, `1h30m`, `2s`, `1d` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)  # a plain number is seconds
    m = _DURATION.match(str(value).strip()) if isinstance(value, str) and value.strip() else None
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 4h, 1h30m, 1d)")
    d, h, mi, s = m.groups()
    return timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0), seconds=float(s or 0))


def parse_positive_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"must be a positive duration, got {value!r}")
    return duration


Duration = Annotated[timedelta, BeforeValidator(parse_positive_duration)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the secret")]


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coverage(Strict):
    """When SLA clocks count: all the time, or business hours in the tenant's time zone."""

    hours: Literal["24x7", "business"] = "24x7"
    timezone: str = "UTC"
    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    extra_holidays: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name like Europe/London)") from None
        return v

    @model_validator(mode="after")
    def _window(self) -> Coverage:
        if self.hours == "business" and self.start >= self.end:
            raise ValueError("coverage start must be before end")
        return self

    @property
    def label(self) -> str:
        if self.hours == "24x7":
            return "24x7"
        return f"{self.start:%H:%M}-{self.end:%H:%M} {','.join(self.days)} {self.timezone}"


class SlaTarget(Strict):
    respond: Duration
    resolve: Duration


class Contract(Strict):
    tier: str
    coverage: Coverage = Coverage()
    sla: dict[Priority, SlaTarget]

    @field_validator("sla")
    @classmethod
    def _all_priorities(cls, v: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        missing = [p for p in PRIORITIES if p not in v]
        if missing:
            raise ValueError(f"SLA targets missing for {', '.join(missing)}")
        return v


class MaintenanceWindow(Strict):
    """A weekly slot in which changes to a CI may run; `end` at or before `start` ends the next day."""

    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return Coverage._known_zone(v)


class ConfigurationItem(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    name: str
    category: Category
    criticality: Criticality = "medium"
    # Changes to this CI must fit in one of these (a conflict otherwise); none: any time.
    maintenance_windows: list[MaintenanceWindow] = []


class IntegrationKey(Strict):
    name: str
    key_sha256: Sha256
    ci: str | None = None  # a key bound to one CI fills in `ci` when the alert omits it
    revoked: bool = False


class EscalationStep(Strict):
    tier: Annotated[int, Field(ge=1, le=3)]
    after: Duration


class EscalationPolicy(Strict):
    steps: list[EscalationStep] = [EscalationStep(tier=1, after=timedelta(minutes=15))]


class ApiToken(Strict):
    user: str
    role: Role
    token_sha256: Sha256


Risk = Literal["low", "medium", "high"]


class CabRule(Strict):
    """A board for changes on CIs of `category` and/or assessed at `risk` (unset matches any)."""

    category: Category | None = None
    risk: Risk | None = None
    members: list[str] | None = None  # None: the tenant's CAB members
    quorum: Annotated[int, Field(ge=1)]
    emergency_quorum: Annotated[int, Field(ge=1)] | None = None  # None: the tenant's emergency_quorum


class Cab(Strict):
    members: list[str] = []
    quorum: Annotated[int, Field(ge=1)] = 1
    emergency_quorum: Annotated[int, Field(ge=1)] = 1
    rules: list[CabRule] = []
    # A normal change also needs an approval from one of the tenant's own `client_approver` users.
    client_approval: bool = False
    # Rejections that reject a change (1: any rejection rejects).
    rejections: Annotated[int, Field(ge=1)] = 1


class ChangeTemplate(Strict):
    """A pre-approved standard change: created from here, scheduled on submit without a CAB vote."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    title: Annotated[str, Field(min_length=1, max_length=255)]
    cis: list[str] = Field(min_length=1)  # the CIs it may be applied to
    description: str | None = None
    max_duration: Duration | None = None


class FreezeWindow(Strict):
    """A blackout (e.g. year-end): normal and standard changes may not be scheduled into it."""

    name: str
    start: datetime
    end: datetime
    cis: list[str] = []  # empty: every CI of the tenant

    @model_validator(mode="after")
    def _order(self) -> FreezeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("freeze start and end need a UTC offset, e.g. 2026-12-20T00:00:00Z")
        if self.start >= self.end:
            raise ValueError("freeze start must be before end")
        return self


class ChangePolicy(Strict):
    templates: list[ChangeTemplate] = []
    freezes: list[FreezeWindow] = []
    # An incident opened on a changed CI this long after the change's implementation ended is linked to it.
    incident_link_window: Duration = timedelta(hours=24)

    @cached_property
    def template_index(self) -> dict[str, ChangeTemplate]:
        return {t.id: t for t in self.templates}


class Tenant(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    name: str
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$", description="prefix of incident numbers")]
    contract: Contract
    services: list[ConfigurationItem] = []
    integration_keys: list[IntegrationKey] = []
    escalation: EscalationPolicy = EscalationPolicy()
    cab: Cab = Cab()
    api_tokens: list[ApiToken] = []
    changes: ChangePolicy = ChangePolicy()

    @model_validator(mode="after")
    def _references(self) -> Tenant:
        cis = {c.id for c in self.services}
        if len(cis) != len(self.services):
            raise ValueError("service ids must be unique within a tenant")
        for k in self.integration_keys:
            if k.ci and k.ci not in cis:
                raise ValueError(f"integration key {k.name!r} names unknown service {k.ci!r}")
        if self.cab.members and self.cab.quorum > len(self.cab.members):
            raise ValueError(f"CAB quorum {self.cab.quorum} exceeds its {len(self.cab.members)} members")
        self._check_changes(cis)
        return self

    def _check_changes(self, cis: set[str]) -> None:
        for i, rule in enumerate(self.cab.rules):
            members = self.cab.members if rule.members is None else rule.members
            if members and rule.quorum > len(members):
                raise ValueError(f"cab.rules.{i}: quorum {rule.quorum} exceeds its {len(members)} members")
        owners = [(f"change template {t.id!r}", t.cis) for t in self.changes.templates]
        owners += [(f"freeze {f.name!r}", f.cis) for f in self.changes.freezes]
        for owner, named in owners:
            if unknown := sorted(set(named) - cis):
                raise ValueError(f"{owner} names unknown services: {', '.join(unknown)}")
        if len(self.changes.template_index) != len(self.changes.templates):
            raise ValueError("change template ids must be unique within a tenant")

    @cached_property
    def ci_index(self) -> dict[str, ConfigurationItem]:
        return {c.id: c for c in self.services}


class Provider(Strict):
    name: str = "Managed service provider"
    api_tokens: list[ApiToken] = []


class TierlineConfig(Strict):
    provider: Provider = Provider()
    tenants: list[Tenant]

    @model_validator(mode="after")
    def _unique(self) -> TierlineConfig:
        for attr in ("id", "code"):
            values = [getattr(t, attr) for t in self.tenants]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"tenant {attr}s must be unique: {', '.join(dupes)}")
        keys = [k.key_sha256 for t in self.tenants for k in t.integration_keys]
        tokens = [a.token_sha256 for t in self.tenants for a in t.api_tokens] + [
            a.token_sha256 for a in self.provider.api_tokens
        ]
        if len(set(keys)) != len(keys) or len(set(tokens)) != len(tokens):
            raise ValueError("an integration key or API token hash appears twice")
        # A user name is one person everywhere: CAB membership and approvals go by it.
        users = [(a.user, None) for a in self.provider.api_tokens] + [
            (a.user, t.id) for t in self.tenants for a in t.api_tokens
        ]
        for t in self.tenants:  # a member without a token could never vote: the quorum would be unreachable
            voters = {a.user for a in self.provider.api_tokens} | {a.user for a in t.api_tokens}
            members = set(t.cab.members).union(*[r.members or [] for r in t.cab.rules])
            if missing := sorted(members - voters):
                raise ValueError(f"tenant {t.id}: CAB members without an API token: {', '.join(missing)}")
        clash = sorted({u for u, scope in users if any(u == v and scope != w for v, w in users)})
        if clash:
            raise ValueError(f"token user names must be unique across provider and tenants: {', '.join(clash)}")
        return self

    @cached_property
    def tenants_by_id(self) -> dict[str, Tenant]:
        return {t.id: t for t in self.tenants}

    @cached_property
    def integration_keys(self) -> dict[str, tuple[Tenant, IntegrationKey]]:
        return {k.key_sha256: (t, k) for t in self.tenants for k in t.integration_keys if not k.revoked}

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants_by_id.get(tenant_id)


def load_config(path: Path) -> TierlineConfig:
    """Read and validate a tierline.yaml; raises pydantic.ValidationError or yaml.YAMLError."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return TierlineConfig.model_validate(raw)
