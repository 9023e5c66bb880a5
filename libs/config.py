"""Configuration as code: tenants, contracts, CIs, integration keys, escalation policies, tokens (tierline.yaml)."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import time, timedelta
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


class ServiceCredits(Strict):
    """What the provider owes below target: `percent_per_step` % of the monthly fee for each started
    `step_pct` % of availability under the target, capped at `cap_pct` % (summed over services)."""

    monthly_fee: Annotated[float, Field(gt=0)]
    currency: str = "EUR"
    percent_per_step: Annotated[float, Field(gt=0, le=100)] = 5.0
    step_pct: Annotated[float, Field(gt=0)] = 0.1
    cap_pct: Annotated[float, Field(gt=0, le=100)] = 50.0


class Availability(Strict):
    """How reporting measures each service's availability against the contract."""

    target_pct: Annotated[float, Field(gt=0, le=100)] = 99.9
    per_service: dict[str, Annotated[float, Field(gt=0, le=100)]] = {}  # CI id -> its own target
    downtime_priorities: list[Priority] = ["P1"]  # an open incident of these priorities on a CI is downtime
    exclude_change_windows: bool = True  # approved change windows do not count as downtime
    credits: ServiceCredits | None = None


class Contract(Strict):
    tier: str
    coverage: Coverage = Coverage()
    sla: dict[Priority, SlaTarget]
    availability: Availability = Availability()
    sla_compliance_target_pct: Annotated[float, Field(gt=0, le=100)] = 95.0  # drawn on the report's chart

    @field_validator("sla")
    @classmethod
    def _all_priorities(cls, v: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        missing = [p for p in PRIORITIES if p not in v]
        if missing:
            raise ValueError(f"SLA targets missing for {', '.join(missing)}")
        return v


class ConfigurationItem(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    name: str
    category: Category
    criticality: Criticality = "medium"


class Signature(Strict):
    """Optional HMAC-SHA256 signing of webhook requests for one integration.

    The secret cannot be stored hashed like the key (verifying a signature needs the secret itself), so it
    is read from an environment variable (`secret_env`, for production) or given inline (`secret`, demo/tests).
    """

    style: Literal["tierline", "grafana"] = "tierline"
    secret: str | None = Field(default=None, min_length=16, repr=False)
    secret_env: str | None = None
    # Defaults: tierline -> X-Tierline-Signature / X-Tierline-Timestamp;
    # grafana -> X-Grafana-Alert-Signature and no timestamp unless the contact point sets `timestamp_header`.
    header: str | None = None
    timestamp_header: str | None = None
    max_age: Duration = timedelta(minutes=5)  # replay window, either side of now

    @model_validator(mode="after")
    def _one_secret(self) -> Signature:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of `secret` or `secret_env`")
        if self.secret_env is not None and len(os.environ.get(self.secret_env, "")) < 16:
            raise ValueError(f"environment variable {self.secret_env} must hold the signing secret (16+ characters)")
        return self

    @property
    def key(self) -> bytes:
        return (self.secret if self.secret is not None else os.environ[self.secret_env or ""]).encode()


class RateLimit(Strict):
    """Per integration key, per intake process: a token bucket (requests, not alerts)."""

    per_second: Annotated[float, Field(gt=0)] = 50.0
    burst: Annotated[int, Field(ge=1)] = 500


class IntegrationKey(Strict):
    name: str
    key_sha256: Sha256
    ci: str | None = None  # a key bound to one CI fills in `ci` when the alert omits it
    revoked: bool = False
    signature: Signature | None = None
    rate_limit: RateLimit = RateLimit()
    # Which alert label names the CI (Alertmanager/Grafana labels, generic labels, PagerDuty custom_details);
    # and, for a provider-wide key only, which names the tenant.
    ci_label: str = "service"
    tenant_label: str = "tenant"


class EscalationStep(Strict):
    tier: Annotated[int, Field(ge=1, le=3)]
    after: Duration


class EscalationPolicy(Strict):
    steps: list[EscalationStep] = [EscalationStep(tier=1, after=timedelta(minutes=15))]


class ApiToken(Strict):
    user: str
    role: Role
    token_sha256: Sha256


class Cab(Strict):
    members: list[str] = []
    quorum: Annotated[int, Field(ge=1)] = 1
    emergency_quorum: Annotated[int, Field(ge=1)] = 1


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

    @model_validator(mode="after")
    def _references(self) -> Tenant:
        cis = {c.id for c in self.services}
        if len(cis) != len(self.services):
            raise ValueError("service ids must be unique within a tenant")
        if unknown := sorted(set(self.contract.availability.per_service) - cis):
            raise ValueError(f"contract.availability.per_service names unknown services: {', '.join(unknown)}")
        for k in self.integration_keys:
            if k.ci and k.ci not in cis:
                raise ValueError(f"integration key {k.name!r} names unknown service {k.ci!r}")
        if self.cab.members and self.cab.quorum > len(self.cab.members):
            raise ValueError(f"CAB quorum {self.cab.quorum} exceeds its {len(self.cab.members)} members")
        return self

    @cached_property
    def ci_index(self) -> dict[str, ConfigurationItem]:
        return {c.id: c for c in self.services}


class Provider(Strict):
    name: str = "Managed service provider"
    api_tokens: list[ApiToken] = []
    # Keys not bound to a tenant: each alert names its tenant in the key's `tenant_label` (one Alertmanager
    # for many clients). A tenant-bound key can never write to another tenant.
    integration_keys: list[IntegrationKey] = []


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
        keys = [k.key_sha256 for t in self.tenants for k in t.integration_keys] + [
            k.key_sha256 for k in self.provider.integration_keys
        ]
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
            if missing := sorted(set(t.cab.members) - voters):
                raise ValueError(f"tenant {t.id}: CAB members without an API token: {', '.join(missing)}")
        clash = sorted({u for u, scope in users if any(u == v and scope != w for v, w in users)})
        if clash:
            raise ValueError(f"token user names must be unique across provider and tenants: {', '.join(clash)}")
        return self

    @cached_property
    def tenants_by_id(self) -> dict[str, Tenant]:
        return {t.id: t for t in self.tenants}

    @cached_property
    def integration_keys(self) -> dict[str, tuple[Tenant | None, IntegrationKey]]:
        """Live keys by hash: (its tenant, or None for a provider-wide key, and the key)."""
        keys: dict[str, tuple[Tenant | None, IntegrationKey]] = {
            k.key_sha256: (t, k) for t in self.tenants for k in t.integration_keys if not k.revoked
        }
        keys.update({k.key_sha256: (None, k) for k in self.provider.integration_keys if not k.revoked})
        return keys

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants_by_id.get(tenant_id)


def load_config(path: Path) -> TierlineConfig:
    """Read and validate a tierline.yaml; raises pydantic.ValidationError or yaml.YAMLError."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return TierlineConfig.model_validate(raw)
