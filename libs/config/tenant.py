"""Tenants, the provider and the whole tierline.yaml: cross-checks and the loader."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    Field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import SerializationInfo

from libs.config.base import (
    Role,
    Sha256,
    Strict,
)
from libs.config.catalog import (
    ConfigurationItem,
    IntegrationKey,
)
from libs.config.change import (
    Cab,
    ChangePolicy,
)
from libs.config.contract import (
    Contract,
    ContractSpan,
    contract_terms,
    spans,
    version_at,
)
from libs.config.directory import Directory, check_directory
from libs.config.escalation import (
    EscalationPolicy,
    Notifications,
    Smtp,
)
from libs.config.identity import check_identities
from libs.config.mail import MailRoute, ProviderMail, TenantMail, check_tenant_mail, mail_routes
from libs.config.oncall import Person, Schedule, step_target
from libs.config.signals import (
    Control,
    Heartbeat,
    check_signals,
)
from libs.config.triage import (
    TriageRules,
)


class ApiToken(Strict):
    user: str
    role: Role
    token_sha256: Sha256
    tier: Annotated[int, Field(ge=1, le=3)] | None = None  # an agent's support tier
    tenants: list[str] | None = None  # provider staff limited to these tenants (None: all)


class Tenant(Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    name: str
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$", description="prefix of incident numbers")]
    contract: Contract | list[Contract]  # one contract, or its versions over time (contract_at)
    services: list[ConfigurationItem] = []
    integration_keys: list[IntegrationKey] = []
    escalation: EscalationPolicy = EscalationPolicy()
    cab: Cab = Cab()
    api_tokens: list[ApiToken] = []
    triage: TriageRules = TriageRules()
    notifications: Notifications = Notifications()
    changes: ChangePolicy = ChangePolicy()
    mail: TenantMail | None = None  # its addresses for alerts and requests by e-mail (docs/email.md)
    heartbeats: list[Heartbeat] = []  # a dead man's switch, backup jobs (docs/heartbeats.md)
    controls: list[Control] = []  # compliance controls a scanner checks
    people: list[Person] = []  # its own named engineers and client contacts who can be paged (docs/oncall.md)
    schedules: list[Schedule] = []  # its own on-call schedules (the provider's serve every tenant)

    @field_validator("contract", mode="plain")
    @classmethod
    def _contract_versions(cls, v: Any) -> Contract | list[Contract]:
        return contract_terms(v)

    @field_serializer("contract")
    def _dump_contract(self, v: Contract | list[Contract], info: SerializationInfo) -> Any:
        mode = "json" if info.mode_is_json() else "python"
        return [c.model_dump(mode=mode) for c in v] if isinstance(v, list) else v.model_dump(mode=mode)

    @model_validator(mode="after")
    def _notification_references(self) -> Tenant:
        names = [t.name for t in self.notifications.targets]
        if len(set(names)) != len(names):
            raise ValueError("notification target names must be unique within a tenant")
        policies = [self.escalation.steps] + [p.steps for p in self.escalation.categories.values()]
        for step in (s for steps in policies for s in steps):
            # schedule:<id> and user:<name> are checked with the provider's people (libs/config/directory.py)
            targets = {n for n in step.notify if step_target(n)[0] == "target"}
            if missing := sorted(targets - set(names)):
                raise ValueError(f"escalation step names unknown notification targets: {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _references(self) -> Tenant:
        cis = {c.id for c in self.services}
        if len(cis) != len(self.services):
            raise ValueError("service ids must be unique within a tenant")
        for n, c in enumerate(self.contract_versions):
            if unknown := sorted(set(c.availability.per_service) - cis):
                where = f"contract.{n}" if isinstance(self.contract, list) else "contract"
                raise ValueError(f"{where}.availability.per_service names unknown services: {', '.join(unknown)}")
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
        if self.mail is not None:
            check_tenant_mail(self.mail, [k.name for k in self.integration_keys])
        check_signals(self.heartbeats, self.controls, cis)
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

    @property
    def contract_versions(self) -> tuple[Contract, ...]:
        # Not cached: model_copy(update={"contract": ...}) would carry a cached value over to the copy.
        return tuple(self.contract) if isinstance(self.contract, list) else (self.contract,)

    def contract_at(self, at: datetime) -> Contract:
        """The contract version in force at `at` (docs/configuration.md, "Contracts over time")."""
        return version_at(self.contract_versions, at)

    def contracts_between(self, start: datetime, end: datetime) -> list[ContractSpan]:
        """Each contract version in force during [start, end), clipped to it, in order."""
        return spans(self.contract_versions, start, end)

    @cached_property
    def ci_index(self) -> dict[str, ConfigurationItem]:
        return {c.id: c for c in self.services}

    @cached_property
    def heartbeat_index(self) -> dict[str, Heartbeat]:
        return {h.name: h for h in self.heartbeats}

    @cached_property
    def heartbeat_alertnames(self) -> dict[str, Heartbeat]:
        """Alertmanager alert names that count as a beat (Watchdog), to their heartbeat."""
        return {h.alertmanager_alertname: h for h in self.heartbeats if h.alertmanager_alertname}

    @cached_property
    def control_index(self) -> dict[str, Control]:
        return {c.id: c for c in self.controls}


class ProviderIntegration(Strict):
    """A monitoring source shared by many tenants (an upstream ISP, a cloud status feed): the same dedup key
    from it in several tenants is one provider incident with a child incident per tenant."""

    source: str
    name: str | None = None


class Contact(Strict):
    """How a client reaches the provider: printed in the footer of every service report."""

    email: str | None = None
    phone: str | None = None
    url: str | None = None


class Provider(Strict):
    name: str = "Managed service provider"
    contact: Contact | None = None
    api_tokens: list[ApiToken] = []
    # Keys not bound to a tenant: each alert names its tenant in the key's `tenant_label` (one Alertmanager
    # for many clients). A tenant-bound key can never write to another tenant.
    integration_keys: list[IntegrationKey] = []
    integrations: list[ProviderIntegration] = []
    smtp: Smtp | None = None  # the relay e-mail notifications go out through
    mail: ProviderMail | None = None  # the domain alerts and requests by e-mail come in at (docs/email.md)
    people: list[Person] = []  # the provider's engineers who can be paged, with their contact methods
    schedules: list[Schedule] = []  # on-call schedules shared by every tenant (docs/oncall.md)


class TierlineConfig(Strict):
    provider: Provider = Provider()
    tenants: list[Tenant]

    @model_validator(mode="after")
    def _unique(self) -> TierlineConfig:
        check_identities(self)
        return self

    @model_validator(mode="after")
    def _mail_relay(self) -> TierlineConfig:
        emails = [t.id for t in self.tenants for n in t.notifications.targets if n.kind == "email"]
        if emails and self.provider.smtp is None:
            raise ValueError(f"e-mail notification targets need provider.smtp (tenants: {', '.join(sorted(emails))})")
        people = [*self.provider.people, *(p for t in self.tenants for p in t.people)]
        paged = sorted({p.name for p in people for m in p.contact_methods if m.kind == "email"})
        if paged and self.provider.smtp is None:
            raise ValueError(f"e-mail contact methods need provider.smtp (people: {', '.join(paged)})")
        return self

    @model_validator(mode="after")
    def _oncall(self) -> TierlineConfig:
        check_directory(self)
        return self

    @cached_property
    def directory(self) -> Directory:
        """Every schedule and person on call, by id and name (libs/config/directory.py)."""
        return Directory(self)

    @model_validator(mode="after")
    def _mail_addresses(self) -> TierlineConfig:
        with_mail = sorted(t.id for t in self.tenants if t.mail is not None)
        if with_mail and self.provider.mail is None:
            raise ValueError(f"tenants with mail addresses need provider.mail.domain (tenants: {', '.join(with_mail)})")
        mail_routes(self.tenants)  # raises on an address used twice
        return self

    @cached_property
    def mail_routes(self) -> dict[str, MailRoute]:
        """Live mail addresses by local part (at provider.mail.domain)."""
        return mail_routes(self.tenants)

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

    @cached_property
    def tiers(self) -> dict[str, int]:
        """Each provider user's support tier, for those who have one (agents); managers and admins have none."""
        return {t.user: t.tier for t in self.provider.api_tokens if t.tier is not None}

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants_by_id.get(tenant_id)


def load_config(path: Path) -> TierlineConfig:
    """Read and validate a tierline.yaml; raises pydantic.ValidationError or yaml.YAMLError."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return TierlineConfig.model_validate(raw)
