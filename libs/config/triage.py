"""Triage rules: maintenance windows, category and routing rules, flapping, reopen and correlation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from libs.config.base import (
    Category,
    Duration,
    OptionalDuration,
    Priority,
    Strict,
)


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
