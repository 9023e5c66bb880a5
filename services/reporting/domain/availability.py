"""Service availability per declared service for a period: downtime incidents less approved change windows,
against the contract's targets, and the service credits a shortfall earns (pure); each part of the period by the
contract version in force then. Defined in docs/metrics.md."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.config import ConfigurationItem, ContractSpan, Tenant
from services.reporting.domain.period import Period
from services.reporting.domain.stories import IncidentStory

Interval = tuple[datetime, datetime]
Windows = list[tuple[list[str], datetime, datetime]]  # approved change windows: (CIs, start, end)


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


@dataclass(frozen=True)
class Measured:
    """One service over one contract version's part of the period."""

    seconds: float  # of the period the version was in force (measured so far)
    down_s: float
    excluded_s: float
    pct: float | None
    target: float
    credit_pct: float | None  # None: the version has no service credits


def _measure(stories: list[IncidentStory], windows: Windows, ci: str, span: ContractSpan) -> Measured:
    """Downtime of `ci` while `span`'s version was in force, by that version's rules."""
    rules, a, b = span.contract.availability, span.start, span.end
    down = merge(
        (max(s.detected_at or s.opened_at, a), min(s.last_resolved or b, b))
        for s in stories
        if s.ci == ci and s.priority in rules.downtime_priorities
    )
    excluded: list[Interval] = []
    if rules.exclude_change_windows:
        excluded = merge((max(w0, a), min(w1, b)) for cis, w0, w1 in windows if ci in cis)
        down = minus(down, excluded)
    seconds = (b - a).total_seconds()
    down_s = sum((y - x).total_seconds() for x, y in down)
    pct = round((seconds - down_s) / seconds * 100, 4) if seconds else None
    target = rules.per_service.get(ci, rules.target_pct)
    c = rules.credits
    credit = None if c is None else 0.0
    if c is not None and pct is not None:
        credit = credit_pct(pct, target, per_step=c.percent_per_step, step=c.step_pct, cap=c.cap_pct)
    return Measured(seconds, down_s, sum((y - x).total_seconds() for x, y in excluded), pct, target, credit)


def _entry(ci: ConfigurationItem, parts: list[Measured]) -> dict[str, Any]:
    """A service over the whole period: downtime summed over the versions (each by its own rules); its target the
    versions' targets weighted by how long each was in force; met only if every version's part met its own."""
    seconds = sum(m.seconds for m in parts)
    down_s = sum(m.down_s for m in parts)
    pct = round((seconds - down_s) / seconds * 100, 4) if seconds else None
    one = len(parts) == 1
    target = parts[0].target if one else round(sum(m.target * m.seconds for m in parts) / seconds, 4)
    entry: dict[str, Any] = {
        "ci": ci.id,
        "name": ci.name,
        "category": ci.category,
        "availability_pct": pct,
        "target_pct": target,
        "met": None if pct is None else all(m.pct is not None and m.pct >= m.target for m in parts),
        "downtime_minutes": round(down_s / 60, 2),
        "excluded_change_minutes": round(sum(m.excluded_s for m in parts) / 60, 2),
    }
    credits = [(m.credit_pct or 0.0, m.seconds) for m in parts if m.credit_pct is not None]
    if credits:
        entry["credit_pct"] = credits[0][0] if one else round(sum(c * s for c, s in credits) / seconds, 4)
    return entry


def _credit(span: ContractSpan, parts: list[Measured], share: float) -> dict[str, Any] | None:
    """What one version's part of the period earns: its services' credits (capped) on its share of its fee."""
    c = span.contract.availability.credits
    if c is None:
        return None
    pct = min(c.cap_pct, sum(m.credit_pct or 0.0 for m in parts))
    return {"pct_of_fee": pct, "amount": c.monthly_fee * pct / 100 * share, "monthly_fee": c.monthly_fee * share,
            "currency": c.currency}  # fmt: skip


def availability(
    stories: list[IncidentStory], windows: Windows, tenant: Tenant, period: Period, as_of: datetime
) -> dict[str, Any]:
    """Per declared service: downtime from its downtime incidents (detected or opened → resolved, clipped to
    the period, overlaps counted once), less approved change windows on it when the contract says so; each part of
    the period by the contract version in force then (docs/metrics.md, "Contracts that change").

    A period still running is measured to `as_of` (month to date): an incident still open is down until now,
    not until the period's end, and a period not begun has no availability yet."""
    end = min(period.end, max(as_of, period.start))
    spans = tenant.contracts_between(period.start, end) or [_not_begun(tenant, end)]
    measured = {ci.id: [_measure(stories, windows, ci.id, s) for s in spans] for ci in tenant.services}
    total = sum((s.end - s.start).total_seconds() for s in spans)
    by_contract, credits = [], []
    for i, span in enumerate(spans):
        share = (span.end - span.start).total_seconds() / total if total else 1.0
        credit = _credit(span, [m[i] for m in measured.values()], share)
        credits += [credit] if credit else []
        services = [_entry(ci, [measured[ci.id][i]]) for ci in tenant.services]
        by_contract.append({"version": span.number, "tier": span.contract.tier, "from": span.start, "to": span.end,
                            "services": services, "service_credit": _rounded(credit)})  # fmt: skip
    out: dict[str, Any] = {
        "measured_to": end,
        "complete": end == period.end,
        "services": [_entry(ci, measured[ci.id]) for ci in tenant.services],
        "by_contract": by_contract,
    }
    if credits:
        amount, fee = sum(c["amount"] for c in credits), sum(c["monthly_fee"] for c in credits)
        pct = credits[0]["pct_of_fee"] if len(spans) == 1 else round(amount / fee * 100, 4) if fee else 0.0
        out["service_credit"] = {"pct_of_fee": pct, "amount": round(amount, 2), "currency": credits[0]["currency"],
                                 "monthly_fee": round(fee, 2)}  # fmt: skip
    return out


def _not_begun(tenant: Tenant, at: datetime) -> ContractSpan:
    """A period not begun is measured over nothing, under the version it will begin with."""
    contract = tenant.contract_at(at)
    return ContractSpan(at, at, contract, tenant.contract_versions.index(contract) + 1)


def _rounded(credit: dict[str, Any] | None) -> dict[str, Any] | None:
    if credit is None:
        return None
    return credit | {"amount": round(credit["amount"], 2), "monthly_fee": round(credit["monthly_fee"], 2)}
