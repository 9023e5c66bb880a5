"""The contract versions a report covers (pure): each version's terms and the part of the period it was in force,
the SLA compliance of the incidents opened under it against its own target, and the words the report says them in
("Standard until 14 Nov, Premium from 15 Nov"). Defined in docs/metrics.md, "Contracts that change"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from libs.config import PRIORITIES, ContractSpan, Tenant
from services.reporting.domain.figures import compliance
from services.reporting.domain.period import Period
from services.reporting.domain.stories import IncidentStory


def _when(span: ContractSpan, at: datetime) -> tuple[str, bool]:
    """`at` in the span's coverage time zone as the report says it: `15 Nov`, or `15 Nov 12:00` if not at midnight."""
    local = at.astimezone(ZoneInfo(span.contract.coverage.timezone))
    midnight = (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    return f"{local.day} {local:%b}" + ("" if midnight else f" {local:%H:%M}"), midnight


def summary(spans: list[ContractSpan], period: Period) -> str:
    """`Standard until 14 Nov, Premium from 15 Nov`: one phrase per version in force during the period."""
    if len(spans) == 1:
        return spans[0].contract.tier
    phrases = []
    for i, s in enumerate(spans):
        words = [s.contract.tier]
        if s.start > period.start:
            words.append(f"from {_when(s, s.start)[0]}")
        if s.end < period.end:
            nxt = spans[i + 1]
            day, midnight = _when(nxt, nxt.start)
            last = _when(nxt, nxt.start - timedelta(days=1))[0] if midnight else day
            words.append(f"until {last}")
        phrases.append(" ".join(words))
    return ", ".join(phrases)


def _clock(stories: list[IncidentStory], clock: str) -> dict[str, Any]:
    outcomes = [s.clocks[clock].met for s in stories if clock in s.clocks]
    return compliance(sum(1 for m in outcomes if m), sum(1 for m in outcomes if m is False))


def versions(tenant: Tenant, period: Period, opened: list[IncidentStory]) -> list[dict[str, Any]]:
    """Each version in force during the period: its terms, and the incidents opened under it with their SLA
    compliance against its own compliance target (their clocks ran to its targets)."""
    out = []
    for s in tenant.contracts_between(period.start, period.end):
        c = s.contract
        mine = [i for i in opened if s.start <= i.opened_at < s.end]
        response, resolution = _clock(mine, "response"), _clock(mine, "resolution")
        decided = [x["compliance_pct"] for x in (response, resolution) if x["compliance_pct"] is not None]
        out.append({
            "version": s.number, "tier": c.tier, "from": s.start, "to": s.end, "effective_from": c.starts_at,
            "coverage": c.coverage.label,
            "sla_targets": {p: {"respond_s": c.sla[p].respond.total_seconds(),
                                "resolve_s": c.sla[p].resolve.total_seconds()} for p in PRIORITIES},
            "priority_matrix": c.priority_matrix, "impact_by_criticality": c.impact_by_criticality,
            "availability_target_pct": c.availability.target_pct,
            "sla_compliance_target_pct": c.sla_compliance_target_pct,
            "incidents": len(mine), "response_sla": response, "resolution_sla": resolution,
            "compliance_met": all(x >= c.sla_compliance_target_pct for x in decided) if decided else None,
        })  # fmt: skip
    return out


def compliance_target(tenant: Tenant, opened: list[IncidentStory], period: Period) -> float:
    """The period's SLA compliance target: the mean of the targets each incident opened in it was promised (the
    version in force when it opened); with no incident, the target of the version in force at the period's end."""
    if not opened:
        return tenant.contract_at(period.end - timedelta(microseconds=1)).sla_compliance_target_pct
    targets = [tenant.contract_at(s.opened_at).sla_compliance_target_pct for s in opened]
    return round(sum(targets) / len(targets), 2)
