"""Configuration as code: tenants, contracts, CIs, integration keys, escalation policies, tokens (tierline.yaml)."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

Priority = Literal["P1", "P2", "P3", "P4", "P5"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4", "P5")
Category = Literal["infrastructure", "network", "security", "cloud", "end-user", "data", "compliance"]
Criticality = Literal["critical", "high", "medium", "low"]
# agent/manager/admin/client are the incident-desk names; the older names stay valid (see libs/auth.py EQUIVALENT).
Role = Literal[
    "provider_admin", "engineer", "change_manager", "cab_member", "client_viewer", "client_approver",
    "agent", "manager", "admin", "client",
]  # fmt: skip
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: object) -> timedelta:
    """`15m`, `4h`, `1h30m`, `2s`, `1d` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)  # a plain number is seconds
    if isinstance(value, str) and value.strip().upper().startswith("P"):  # ISO 8601 (PT15M): what a dump writes
        try:
            return TypeAdapter(timedelta).validate_python(value.strip())
        except ValidationError:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 4h, 1h30m, 1d, or PT15M)") from None
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


def parse_nonnegative_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration < timedelta(0):
        raise ValueError(f"must not be negative, got {value!r}")
    return duration


OptionalDuration = Annotated[timedelta, BeforeValidator(parse_nonnegative_duration)]  # 0 switches a rule off
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


Level = Literal["high", "medium", "low"]
LEVELS: tuple[Level, ...] = ("high", "medium", "low")


class Contract(Strict):
    tier: str
    coverage: Coverage = Coverage()
    sla: dict[Priority, SlaTarget]
    availability: Availability = Availability()
    sla_compliance_target_pct: Annotated[float, Field(gt=0, le=100)] = 95.0  # drawn on the report's chart
    # Fractions of a target at which an SLA warning fires (the breach is 1.0).
    warn_at: list[Annotated[float, Field(gt=0, lt=1)]] = [0.75, 0.9]
    # Pending customer always pauses the resolution clock; pending vendor only if the contract says so.
    pause_on_vendor: bool = False

    @field_validator("warn_at")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if v != sorted(set(v)):
            raise ValueError("warning fractions must be distinct and ascending, e.g. [0.75, 0.9]")
        return v

    # impact (rows) x urgency (columns) -> priority; None: the ITIL default (services/triage/domain.py)
    priority_matrix: dict[Level, dict[Level, Priority]] | None = None
    # CI criticality -> impact, so a contract's tier can weigh CIs higher; None: the ITIL default
    impact_by_criticality: dict[Criticality, Level] | None = None

    @field_validator("priority_matrix")
    @classmethod
    def _all_cells(cls, v: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]] | None:
        if v is not None and any(set(v.get(i, {})) != set(LEVELS) for i in LEVELS):
            raise ValueError("priority_matrix needs all nine cells: high/medium/low impact x high/medium/low urgency")
        return v

    @field_validator("impact_by_criticality")
    @classmethod
    def _all_criticalities(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None and set(v) != {"critical", "high", "medium", "low"}:
            raise ValueError("impact_by_criticality needs critical, high, medium and low")
        return v

    @field_validator("sla")
    @classmethod
    def _all_priorities(cls, v: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        missing = [p for p in PRIORITIES if p not in v]
        if missing:
            raise ValueError(f"SLA targets missing for {', '.join(missing)}")
        return v


class WeeklyMaintenance(Strict):
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
    maintenance_windows: list[WeeklyMaintenance] = []


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
    group: str | None = None  # who at that tier, e.g. "dba-oncall" (shown in notifications)
    notify: list[str] = []  # names of the tenant's notification targets paged when the step starts


class CategoryPolicy(Strict):
    """A category's own escalation steps (e.g. security incidents page the SOC first)."""

    steps: Annotated[list[EscalationStep], Field(min_length=1)]
    repeat: Annotated[int, Field(ge=0, le=10)] = 0


class EscalationPolicy(Strict):
    steps: list[EscalationStep] = [EscalationStep(tier=1, after=timedelta(minutes=15))]
    # After the last step, run the steps again this many times (re-paging) while still unacknowledged.
    repeat: Annotated[int, Field(ge=0, le=10)] = 0
    categories: dict[Category, CategoryPolicy] = {}

    def for_category(self, category: str | None) -> tuple[str, list[EscalationStep], int]:
        """(policy name, steps, repeat) for an incident of this category."""
        own = self.categories.get(category) if category else None  # type: ignore[call-overload]
        if own is not None:
            return f"category:{category}", own.steps, own.repeat
        return "default", self.steps, self.repeat


Trigger = Literal["opened", "escalated", "sla_warning", "sla_breached", "resolved"]
TRIGGERS: tuple[Trigger, ...] = ("opened", "escalated", "sla_warning", "sla_breached", "resolved")


class NotificationTarget(Strict):
    """Where a tenant's notifications go: a signed webhook, a Slack-compatible incoming webhook, or e-mail."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    kind: Literal["webhook", "slack", "email"]
    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    # The HMAC key of a signed webhook: from an environment variable (preferred) or inline.
    secret_env: str | None = None
    secret: str | None = None
    to: list[str] = []  # e-mail recipients
    triggers: list[Trigger] | None = None  # None: the tenant's notifications.triggers

    @model_validator(mode="after")
    def _complete(self) -> NotificationTarget:
        if self.kind in ("webhook", "slack") and not self.url:
            raise ValueError(f"target {self.name!r}: a {self.kind} target needs a url")
        if self.kind == "webhook" and not (self.secret_env or self.secret):
            raise ValueError(f"target {self.name!r}: a webhook target needs secret_env (or secret) to sign with")
        if self.kind == "email" and not self.to:
            raise ValueError(f"target {self.name!r}: an email target needs `to` addresses")
        return self


class Notifications(Strict):
    triggers: list[Trigger] = list(TRIGGERS)
    opened_priorities: list[Priority] = ["P1", "P2"]  # `opened` notifies only at these priorities
    targets: list[NotificationTarget] = []


class Smtp(Strict):
    """The provider's mail relay for e-mail targets."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str
    username: str | None = None
    password_env: str | None = None
    starttls: bool = False
    use_tls: bool = False


class ApiToken(Strict):
    user: str
    role: Role
    token_sha256: Sha256
    tier: Annotated[int, Field(ge=1, le=3)] | None = None  # an agent's support tier
    tenants: list[str] | None = None  # provider staff limited to these tenants (None: all)


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


class MaintenanceWindow(Strict):
    """A declared window in which alerts on these CIs are expected: recorded, never paging."""

    name: str
    starts_at: datetime
    ends_at: datetime
    cis: list[str] = []  # empty: every CI of the tenant (and alerts naming no CI)

    @model_validator(mode="after")
    def _order(self) -> MaintenanceWindow:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("maintenance window times need a time zone (e.g. 2026-01-10T22:00:00Z)")
        if self.starts_at >= self.ends_at:
            raise ValueError("maintenance window must start before it ends")
        return self


class CategoryRule(Strict):
    """Alerts matching every given condition get this category (before the CI's own)."""

    category: Category
    source: list[str] = []
    labels: dict[str, str] = {}


class RoutingRule(Strict):
    """First match wins: an incident matching every given condition starts at `tier` in `queue`."""

    name: str
    category: list[Category] = []
    priority: list[Priority] = []
    ci: list[str] = []
    labels: dict[str, str] = {}
    tier: Annotated[int, Field(ge=1, le=3)] = 1
    queue: str | None = None  # default: tier-<n>


class Flapping(Strict):
    changes: Annotated[int, Field(ge=1)] = 4  # more than this many state changes ...
    within: Duration = timedelta(minutes=10)  # ... in this long marks an alert flapping


DEFAULT_ROUTING = [RoutingRule(name="security-major", category=["security"], priority=["P1", "P2"], tier=2,
                               queue="security")]  # fmt: skip


class TriageRules(Strict):
    reopen_window: OptionalDuration = timedelta(minutes=10)  # a repeat this soon after resolve reopens
    correlation_window: OptionalDuration = timedelta(0)  # alerts on one CI within it share an incident; 0: off
    flapping: Flapping = Flapping()
    auto_resolve: bool = True  # a monitoring tool's resolve resolves the incident
    resolve_on: Literal["all_alerts", "first_alert"] = "all_alerts"
    maintenance: list[MaintenanceWindow] = []
    category_rules: list[CategoryRule] = []
    routing: list[RoutingRule] = DEFAULT_ROUTING
    close_after: OptionalDuration = timedelta(days=7)  # a resolved incident closes itself after this; 0: never


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
    triage: TriageRules = TriageRules()
    notifications: Notifications = Notifications()
    changes: ChangePolicy = ChangePolicy()

    @model_validator(mode="after")
    def _notification_references(self) -> Tenant:
        names = [t.name for t in self.notifications.targets]
        if len(set(names)) != len(names):
            raise ValueError("notification target names must be unique within a tenant")
        policies = [self.escalation.steps] + [p.steps for p in self.escalation.categories.values()]
        for step in (s for steps in policies for s in steps):
            if missing := sorted(set(step.notify) - set(names)):
                raise ValueError(f"escalation step names unknown notification targets: {', '.join(missing)}")
        return self

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
        named = [c for w in self.triage.maintenance for c in w.cis] + [c for r in self.triage.routing for c in r.ci]
        if unknown := sorted(set(named) - cis):
            raise ValueError(f"triage rules name unknown services: {', '.join(unknown)}")
        for t in self.api_tokens:
            if t.tenants is not None or t.role in ("admin", "manager", "agent"):
                raise ValueError(f"token {t.user!r}: a tenant's token is a client token (client, client_viewer, ...)")
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


class ProviderIntegration(Strict):
    """A monitoring source shared by many tenants (an upstream ISP, a cloud status feed): the same dedup key
    from it in several tenants is one provider incident with a child incident per tenant."""

    source: str
    name: str | None = None


class Provider(Strict):
    name: str = "Managed service provider"
    api_tokens: list[ApiToken] = []
    # Keys not bound to a tenant: each alert names its tenant in the key's `tenant_label` (one Alertmanager
    # for many clients). A tenant-bound key can never write to another tenant.
    integration_keys: list[IntegrationKey] = []
    integrations: list[ProviderIntegration] = []
    smtp: Smtp | None = None


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
            members = set(t.cab.members).union(*[r.members or [] for r in t.cab.rules])
            if missing := sorted(members - voters):
                raise ValueError(f"tenant {t.id}: CAB members without an API token: {', '.join(missing)}")
        known = {t.id for t in self.tenants}
        for a in self.provider.api_tokens:
            if a.role in ("client", "client_viewer", "client_approver"):
                raise ValueError(f"token {a.user!r}: a client token belongs under its tenant's api_tokens")
            if unknown := sorted(set(a.tenants or []) - known):
                raise ValueError(f"token {a.user!r} names unknown tenants: {', '.join(unknown)}")
        clash = sorted({u for u, scope in users if any(u == v and scope != w for v, w in users)})
        if clash:
            raise ValueError(f"token user names must be unique across provider and tenants: {', '.join(clash)}")
        return self

    @model_validator(mode="after")
    def _mail_relay(self) -> TierlineConfig:
        emails = [t.id for t in self.tenants for n in t.notifications.targets if n.kind == "email"]
        if emails and self.provider.smtp is None:
            raise ValueError(f"e-mail notification targets need provider.smtp (tenants: {', '.join(sorted(emails))})")
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
