"""Escalation's pure rules: clock targets from the contract, deadlines, whether a breach escalates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.config import Tenant

MAX_TIER = 3
LATE_AFTER = timedelta(seconds=5)  # a breach fired this long after its deadline is reported as late


@dataclass(frozen=True)
class ClockPlan:
    clock: str
    target: timedelta
    due_at: datetime
    calendar: str


def plan_clocks(tenant: Tenant, priority: str, opened_at: datetime) -> list[ClockPlan]:
    """The response and resolution clocks an incident starts with, from the contract it opened under.

    Deadlines are wall-clock for now; coverage-hour calendars (business hours, holidays) are the SLA issue's.
    """
    target = tenant.contract.sla[priority]  # type: ignore[index]
    return [
        ClockPlan("response", target.respond, opened_at + target.respond, "24x7"),
        ClockPlan("resolution", target.resolve, opened_at + target.resolve, "24x7"),
    ]


def escalation_after_breach(clock: str, tier: int) -> int | None:
    """A response breach moves the incident one tier up (Tier 1 -> 2 -> 3); nothing beyond Tier 3."""
    if clock == "response" and tier < MAX_TIER:
        return tier + 1
    return None


def is_late(due_at: datetime, fired_at: datetime) -> bool:
    return fired_at - due_at > LATE_AFTER
