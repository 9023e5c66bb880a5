"""Triage's configurable rules, pure: category, routing to a tier and queue, suppression windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.config import RoutingRule, Tenant


def _labels_match(want: dict[str, str], have: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in want.items())


def classify(tenant: Tenant, ci_category: str | None, source: str, labels: dict[str, str]) -> str | None:
    """The first category rule matching the alert's source and labels, else the CI's category."""
    for rule in tenant.triage.category_rules:
        if (not rule.source or source in rule.source) and _labels_match(rule.labels, labels):
            return rule.category
    return ci_category


@dataclass(frozen=True)
class Route:
    tier: int
    queue: str
    rule: str | None  # the rule that matched; None: the default (Tier 1)


def _matches(rule: RoutingRule, category: str | None, prio: str, ci: str | None, labels: dict[str, str]) -> bool:
    return (
        (not rule.category or category in rule.category)
        and (not rule.priority or prio in rule.priority)
        and (not rule.ci or ci in rule.ci)
        and _labels_match(rule.labels, labels)
    )


def route(tenant: Tenant, category: str | None, prio: str, ci: str | None, labels: dict[str, str]) -> Route:
    """The starting tier and queue: the tenant's first matching routing rule, else Tier 1."""
    for rule in tenant.triage.routing:
        if _matches(rule, category, prio, ci, labels):
            return Route(rule.tier, rule.queue or f"tier-{rule.tier}", rule.name)
    return Route(1, "tier-1", None)


@dataclass(frozen=True)
class Window:
    """A time during which alerts on some CIs are expected: an approved change in progress, or maintenance."""

    kind: str  # change | maintenance
    ref: str  # the change number (CHG-7) or the maintenance window's name
    title: str
    cis: tuple[str, ...]  # empty: every CI
    starts_at: datetime
    ends_at: datetime

    @property
    def note(self) -> str:
        return f"expected during change {self.ref}" if self.kind == "change" else f"expected during {self.ref}"

    @property
    def key(self) -> str:
        """Names the window on the alerts it holds (change:ACME-CHG-7, maintenance:<name>)."""
        return f"{self.kind}:{self.ref}"


def suppressing(windows: list[Window], ci: str | None, at: datetime) -> Window | None:
    """The window that covers this CI at this time, if any. A change names its CIs; a maintenance window
    without CIs covers the whole tenant."""
    for w in windows:
        if w.starts_at <= at < w.ends_at and ((not w.cis) or (ci is not None and ci in w.cis)):
            return w
    return None


def maintenance_windows(tenant: Tenant) -> list[Window]:
    return [
        Window("maintenance", m.name, m.name, tuple(m.cis), m.starts_at, m.ends_at) for m in tenant.triage.maintenance
    ]
