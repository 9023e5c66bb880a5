"""Service availability per declared service for a period: downtime incidents less approved change windows,
against the contract's targets, and the service credits a shortfall earns (pure). Defined in docs/metrics.md."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from libs.config import Tenant
from services.reporting.domain.period import Period
from services.reporting.domain.stories import IncidentStory

Interval = tuple[datetime, datetime]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def minus(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    """`intervals` without the time covered by `holes` (both merged)."""
    out = []
    for a, b in intervals:
        cursor = a
        for h0, h1 in holes:
            if h1 <= cursor or h0 >= b:
                continue
            if h0 > cursor:
                out.append((cursor, h0))
            cursor = max(cursor, h1)
        if cursor < b:
            out.append((cursor, b))
    return out


def credit_pct(actual: float, target: float, *, per_step: float, step: float, cap: float) -> float:
    """`per_step` % of the fee for each started `step` % below target, at most `cap` %."""
    shortfall = round(target - actual, 9)
    if shortfall <= 0:
        return 0.0
    return min(cap, math.ceil(round(shortfall / step, 9)) * per_step)


def availability(
    stories: list[IncidentStory],
    windows: list[tuple[list[str], datetime, datetime]],
    tenant: Tenant,
    period: Period,
    as_of: datetime,
) -> dict[str, Any]:
    """Per declared service: downtime from its downtime incidents (detected or opened → resolved, clipped to
    the period, overlaps counted once), less approved change windows on it when the contract says so.

    A period still running is measured to `as_of` (month to date): an incident still open is down until now,
    not until the period's end, and a period not begun has no availability yet."""
    rules = tenant.contract.availability
    end = min(period.end, max(as_of, period.start))
    span = (end - period.start).total_seconds()
    services, credits = [], 0.0
    for ci in tenant.services:
        down = merge(
            (max(s.detected_at or s.opened_at, period.start), min(s.last_resolved or end, end))
            for s in stories
            if s.ci == ci.id and s.priority in rules.downtime_priorities
        )
        excluded: list[Interval] = []
        if rules.exclude_change_windows:
            excluded = merge((max(a, period.start), min(b, end)) for cis, a, b in windows if ci.id in cis)
            down = minus(down, excluded)
        down_s = sum((b - a).total_seconds() for a, b in down)
        pct = round((span - down_s) / span * 100, 4) if span else None
        target = rules.per_service.get(ci.id, rules.target_pct)
        entry: dict[str, Any] = {
            "ci": ci.id,
            "name": ci.name,
            "category": ci.category,
            "availability_pct": pct,
            "target_pct": target,
            "met": None if pct is None else pct >= target,
            "downtime_minutes": round(down_s / 60, 2),
            "excluded_change_minutes": round(sum((b - a).total_seconds() for a, b in excluded) / 60, 2),
        }
        if rules.credits and pct is not None:
            c = rules.credits
            entry["credit_pct"] = credit_pct(pct, target, per_step=c.percent_per_step, step=c.step_pct, cap=c.cap_pct)
            credits += entry["credit_pct"]
        services.append(entry)
    out: dict[str, Any] = {"measured_to": end, "complete": end == period.end, "services": services}
    if rules.credits:
        c = rules.credits
        total_pct = min(c.cap_pct, credits)
        out["service_credit"] = {
            "pct_of_fee": total_pct,
            "amount": round(c.monthly_fee * total_pct / 100, 2),
            "currency": c.currency,
            "monthly_fee": c.monthly_fee,
        }
    return out
