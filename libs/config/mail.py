"""Alerts and requests by e-mail (intake's SMTP listener reads these): the provider's mail domain, each tenant's
addresses at it, who may send to them, and how a mail's subject and body become an alert."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field

from libs.config.base import Strict
from libs.contracts.base import Severity

if TYPE_CHECKING:
    from libs.config.tenant import Tenant

# Lowercase here; an address is matched whatever its case (RFC 5321 leaves the case of a local part to us).
LocalPart = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._+-]{0,63}$")]
Domain = Annotated[
    str, Field(max_length=253, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
]


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {value!r} ({exc})") from None
    return value


# A regular expression, searched (not anchored unless it says ^), case-insensitively.
Pattern = Annotated[str, AfterValidator(_regex)]


class ProviderMail(Strict):
    """Where tenants' mail arrives: `<local part>@<domain>`; the provider's MX (or relay) sends it to intake."""

    domain: Domain


class SeverityRule(Strict):
    pattern: Pattern
    severity: Severity


class MailRules(Strict):
    """How a mail's subject and text become an alert (docs/email.md)."""

    severity: list[SeverityRule] = []  # the first whose pattern the subject holds wins
    default_severity: Severity = "error"
    resolved: Pattern | None = None  # a mail to the alert address whose subject holds it resolves: ^(RESOLVED|OK):
    ci: Pattern | None = None  # group `ci` (else the first group, else the match) names the CI: subject, then text
    # For tools that never thread their mails: group `key` (else the first group, else the match) of the subject
    # is the dedup key, so "PROBLEM: disk full on db1" and "RECOVERY: disk full on db1" are one problem.
    key: Pattern | None = None


class TenantMail(Strict):
    alerts: LocalPart | None = None  # e.g. acme+alerts: each mail to it is an alert
    requests: LocalPart | None = None  # e.g. acme+requests: each mail to it is a service request
    integrations: list[LocalPart] = []  # names of this tenant's integration keys, each an alert address too
    allowed_senders: list[str] = []  # glob patterns on the envelope sender (*@acme.example); empty: anyone
    rules: MailRules = MailRules()


@dataclass(frozen=True)
class MailRoute:
    """What one address is: whose, alert or request, and the integration key it stands for (if any)."""

    tenant: str
    kind: Literal["alert", "request"]
    local_part: str
    integration: str | None = None


def check_tenant_mail(mail: TenantMail, key_names: Iterable[str]) -> None:
    if unknown := sorted(set(mail.integrations) - set(key_names)):
        raise ValueError(f"mail.integrations names unknown integration keys: {', '.join(unknown)}")


def mail_routes(tenants: Iterable[Tenant]) -> dict[str, MailRoute]:
    """Every live address's local part -> its route; an address used twice (in one tenant or two) is an error.

    The address of a revoked integration key is left out, so it is refused like any unknown one."""
    routes: dict[str, MailRoute] = {}
    owners: dict[str, str] = {}
    for t in tenants:
        if t.mail is None:
            continue
        revoked = {k.name for k in t.integration_keys if k.revoked}
        found = [MailRoute(t.id, "alert", t.mail.alerts)] if t.mail.alerts else []
        found += [MailRoute(t.id, "request", t.mail.requests)] if t.mail.requests else []
        found += [MailRoute(t.id, "alert", name, name) for name in t.mail.integrations]
        for route in found:
            if route.local_part in owners:
                raise ValueError(f"mail address {route.local_part!r} is used twice (tenants: "
                                 f"{owners[route.local_part]}, {t.id})")  # fmt: skip
            owners[route.local_part] = t.id
            if route.integration not in revoked:
                routes[route.local_part] = route
    return routes


def route_for(routes: dict[str, MailRoute], domain: str, address: str) -> MailRoute | None:
    """The route of a recipient address at our domain, or None (unknown address, or another domain)."""
    local, at, host = address.strip().rpartition("@")
    if not at or host.lower().rstrip(".") != domain:
        return None
    return routes.get(local.lower())
