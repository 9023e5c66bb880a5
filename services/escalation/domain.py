"""Escalation's pure rules: clocks from the contract in coverage time, warning/breach points, pauses,
escalation policy steps and whether a breach escalates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from libs.calendar import Calendar, calendar_for
from libs.config import EscalationStep, Tenant

MAX_TIER = 3
LATE_AFTER = timedelta(seconds=5)  # a deadline fired this long after its time is reported as late
BREACH = 1.0


@dataclass(frozen=True)
class ClockPlan:
    clock: str
    target: timedelta
    due_at: datetime
    calendar: str
    coverage: dict[str, Any]
    warn_at: tuple[float, ...]
    next_fire_at: datetime


def plan_clocks(tenant: Tenant, priority: str, opened_at: datetime) -> list[ClockPlan]:
    """The response and resolution clocks an incident starts with, from the contract it opened under.

    The plan carries the whole contract it used (targets, calendar, warning fractions), so a later contract
    change leaves an open incident's clocks alone.
    """
    contract = tenant.contract
    target = contract.sla[priority]  # type: ignore[index]
    cal = calendar_for(contract.coverage)
    warn = tuple(contract.warn_at)
    plans = []
    for clock, length in (("response", target.respond), ("resolution", target.resolve)):
        s = length.total_seconds()
        due = cal.add(opened_at, s)
        first = next_fire(cal, opened_at, s, 0.0, warn, 0) or due
        plans.append(ClockPlan(clock, length, due, cal.label, cal.spec(), warn, first))
    return plans


def sla_snapshot(tenant: Tenant) -> dict[str, dict[str, float]]:
    """The contract's targets for every priority, in seconds, kept with an incident for priority changes."""
    return {
        p: {"response": t.respond.total_seconds(), "resolution": t.resolve.total_seconds()}
        for p, t in tenant.contract.sla.items()
    }


def fire_points(
    cal: Calendar, started: datetime, target_s: float, paused_s: float, warn_at: tuple[float, ...], warned: int
) -> list[tuple[float, datetime]]:
    """The clock's unfired points, in order: (fraction, instant) for each warning left, then (1.0, breach)."""
    fractions = [*warn_at[warned:], BREACH]
    return [(f, cal.add(started, f * target_s + paused_s)) for f in fractions]


def next_fire(
    cal: Calendar, started: datetime, target_s: float, paused_s: float, warn_at: tuple[float, ...], warned: int
) -> datetime | None:
    points = fire_points(cal, started, target_s, paused_s, warn_at, warned)
    return points[0][1] if points else None


def due_at(cal: Calendar, started: datetime, target_s: float, paused_s: float) -> datetime:
    """The breach instant: the target plus every coverage second spent paused, counted from the start."""
    return cal.add(started, target_s + paused_s)


def pauses(reason: str, *, pause_on_vendor: bool) -> bool:
    """Pending customer always pauses the resolution clock; pending vendor only where the contract says so."""
    return reason == "pending_customer" or (reason == "pending_vendor" and pause_on_vendor)


def escalation_after_breach(clock: str, tier: int) -> int | None:
    """A response breach moves the incident one tier up (Tier 1 -> 2 -> 3); nothing beyond Tier 3."""
    if clock == "response" and tier < MAX_TIER:
        return tier + 1
    return None


def is_late(due_at: datetime, fired_at: datetime) -> bool:
    return fired_at - due_at > LATE_AFTER


# --- escalation policies --------------------------------------------------------------------------------


def steps_snapshot(steps: list[EscalationStep]) -> list[dict[str, Any]]:
    """A policy's steps as stored with the incident (JSON), so a config change leaves open incidents alone."""
    return [{"tier": s.tier, "after_s": s.after.total_seconds(), "group": s.group, "notify": s.notify} for s in steps]


def next_step(step: int, round_: int, n_steps: int, repeat: int) -> tuple[int, int] | None:
    """The (step, round) after `step` ran out unacknowledged; None when the policy is exhausted."""
    if step + 1 < n_steps:
        return step + 1, round_
    if round_ < repeat:
        return 0, round_ + 1
    return None


def step_for_tier(steps: list[dict[str, Any]], tier: int, current: int) -> int | None:
    """Where the policy continues once the incident reached `tier`: the first step from `current` on at that
    tier or above; None when no later step is that high (the policy carries on where it is)."""
    for i, s in enumerate(steps):
        if i >= current and s["tier"] >= tier:
            return i
    return None
