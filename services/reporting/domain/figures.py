"""A tenant's service-report figures for a period, from its incident and change stories (pure).

Every definition is written down in docs/metrics.md; the tests check each against a month computed by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from libs.config import PRIORITIES
from services.reporting.domain.period import Period
from services.reporting.domain.stories import IMPLEMENTED, ChangeStory, IncidentStory, instant

# Coverage time of an incident's [a, b): by the calendar its clocks started with, else the tenant's.
CoverageSeconds = Callable[[IncidentStory, datetime, datetime], float]
CATEGORIES = ("infrastructure", "network", "security", "cloud", "end-user", "data", "compliance")


def mean_seconds(total_s: float, count: int) -> float | None:
    """A mean duration to the millisecond; None when nothing was measured (not zero: zero is a figure)."""
    return round(total_s / count, 3) if count else None


def compliance(met: int, breached: int) -> dict[str, Any]:
    """met / (met + breached) as a percentage to 2 decimals; clocks still running count in neither."""
    decided = met + breached
    pct = round(met / decided * 100, 2) if decided else None
    return {"met": met, "breached": breached, "compliance_pct": pct}


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return mean_seconds(sum(values), len(values))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 2) if whole else None


def _clock_compliance(stories: list[IncidentStory], clock: str) -> dict[str, Any]:
    """Overall and per priority: met / (met + breached)."""
    # One pass, counting (priority, outcome) pairs: the month's incidents are walked once, not once per priority.
    counts = Counter((s.priority, s.clocks[clock].met) for s in stories if clock in s.clocks)

    def of(prio: str | None) -> dict[str, Any]:
        mine = [(m, n) for (q, m), n in counts.items() if prio is None or q == prio]
        return compliance(sum(n for m, n in mine if m), sum(n for m, n in mine if m is False))

    per = {p: of(p) for p in PRIORITIES}
    total = of(None)
    return total | {"by_priority": per}


def _paused(stories: list[IncidentStory]) -> dict[str, float]:
    """Coverage seconds SLA clocks spent paused, by reason (from the escalation service's resume events)."""
    out: Counter[str] = Counter()
    for s in stories:
        for clock in s.clocks.values():
            for r in clock.resumes:
                out[r.get("reason", "?")] += float(r.get("paused_s", 0))
    return {k: round(v, 3) for k, v in sorted(out.items())}


def incident_figures(stories: list[IncidentStory], coverage: CoverageSeconds) -> dict[str, Any]:
    acked = [s for s in stories if s.first_ack]
    resolved = [s for s in stories if s.last_resolved]
    detected = [s for s in stories if s.detected_at and s.detected_at <= s.opened_at]
    fcr = [s for s in resolved if s.tier == 1 and not s.escalations and not s.reassignments]
    return {
        "incidents": len(stories),
        "by_type": dict(Counter(s.kind for s in stories)),
        "by_priority": {p: 0 for p in PRIORITIES} | dict(Counter(s.priority for s in stories)),
        "by_category": {c: 0 for c in CATEGORIES} | dict(Counter(s.category or "uncategorised" for s in stories)),
        "by_tier": dict(sorted(Counter(str(s.tier) for s in stories).items())),
        "by_source": dict(sorted(Counter(s.source for s in stories).items())),
        "mtta_seconds": _mean((s.first_ack - s.opened_at).total_seconds() for s in acked),  # type: ignore[operator]
        "mttr_seconds": _mean((s.last_resolved - s.opened_at).total_seconds() for s in resolved),  # type: ignore[operator]
        "mttr_coverage_seconds": _mean(coverage(s, s.opened_at, s.last_resolved) for s in resolved),  # type: ignore[arg-type]
        "mttd_seconds": _mean((s.opened_at - s.detected_at).total_seconds() for s in detected),  # type: ignore[operator]
        "response_sla": _clock_compliance(stories, "response"),
        "resolution_sla": _clock_compliance(stories, "resolution"),
        "escalation_rate_pct": _rate(sum(1 for s in stories if s.escalations), len(stories)),
        "first_contact_resolution_pct": _rate(len(fcr), len(resolved)),
        "reopen_rate_pct": _rate(sum(1 for s in stories if s.reopens), len(stories)),
        "paused_seconds": _paused(stories),
    }


def change_figures(changes: list[ChangeStory], unmanaged: int, period: Period) -> dict[str, Any]:
    """Changes implemented in the period (completed or failed), and those rejected or cancelled in it."""

    def inside(at: datetime | None) -> bool:
        return at is not None and period.start <= at < period.end

    implemented = [c for c in changes if inside(c.at(*IMPLEMENTED))]
    failed = [c for c in implemented if c.at("change.failed") or c.caused_incidents]
    rejected = [c for c in changes if inside(c.at("change.rejected"))]
    cancelled = [c for c in changes if inside(c.at("change.cancelled"))]
    approved = [c for c in changes if inside(c.at("change.approved"))]
    counted = implemented + rejected + cancelled
    return {
        "implemented": len(implemented),
        "by_type": dict(sorted(Counter(c.change_type for c in counted).items())),
        "by_outcome": {
            "successful": len(implemented) - len(failed),
            "failed": len(failed),
            "rejected": len(rejected),
            "cancelled": len(cancelled),
        },
        "approved": len(approved),
        "rejected": len(rejected),
        "success_rate_pct": _rate(len(implemented) - len(failed), len(implemented)),
        "emergency_share_pct": _rate(sum(1 for c in counted if c.change_type == "emergency"), len(counted)),
        "caused_incidents": [
            {"change": c.number, "incidents": sorted(c.caused_incidents)} for c in implemented if c.caused_incidents
        ],
        "unmanaged": unmanaged,
    }


def families(
    stories: list[IncidentStory],
    avail: dict[str, Any],
    coverage: CoverageSeconds,
    *,
    data: dict[str, Any] | None = None,
    controls: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Each service family's primary metrics, where the tenant has incidents or services of that family (or, for
    data and compliance, backup jobs, restore tests or controls: protection.py measures those)."""
    data = data or {"backups": [], "restores": {"tests": 0, "with_rto": 0, "rto_met": 0, "rto_met_pct": None},
                    "rpo_compliance_pct": None, "worst_gap_seconds": None}  # fmt: skip
    controls = controls or {"in_scope": 0, "control_coverage_pct": None, "open_findings": 0}
    restores = data["restores"]

    def of(cat: str) -> list[IncidentStory]:
        return [s for s in stories if s.category == cat]

    def uptime(cat: str) -> float | None:
        pcts = [
            s["availability_pct"]
            for s in avail["services"]
            if s["category"] == cat and s["availability_pct"] is not None
        ]
        return round(sum(pcts) / len(pcts), 4) if pcts else None

    out: dict[str, Any] = {}
    for cat in CATEGORIES:
        inc = of(cat)
        f = incident_figures(inc, coverage)
        figures = {
            "infrastructure": {"uptime_pct": uptime(cat), "mttr_seconds": f["mttr_seconds"]},
            "network": {"availability_pct": uptime(cat)},
            "security": {"mttd_seconds": f["mttd_seconds"], "mttr_seconds": f["mttr_seconds"]},
            "end-user": {
                "first_contact_resolution_pct": f["first_contact_resolution_pct"],
                "mtta_seconds": f["mtta_seconds"],
            },
            "cloud": {"uptime_pct": uptime(cat), "mttr_seconds": f["mttr_seconds"]},
            "data": {
                "rpo_compliance_pct": data["rpo_compliance_pct"],
                "worst_gap_seconds": data["worst_gap_seconds"],
                "rto_met": restores["rto_met"],
                "rto_tests": restores["with_rto"],
                "rto_met_pct": restores["rto_met_pct"],
            },
            "compliance": {
                "control_coverage_pct": controls["control_coverage_pct"],
                "open_findings": controls["open_findings"],
            },
        }[cat]
        measured = {"data": bool(data["backups"] or restores["tests"]), "compliance": bool(controls["in_scope"])}
        if inc or measured.get(cat) or any(s["category"] == cat for s in avail["services"]):
            out[cat] = {"incidents": len(inc), **figures}
    return out


def breaches(stories: Iterable[IncidentStory], period: Period) -> list[dict[str, Any]]:
    """Every (incident, clock) breach that happened in the period, oldest first."""
    out = []
    for s in stories:
        for clock in s.clocks.values():
            b = clock.breached
            at = instant(b.get("breached_at")) if b else None
            if b and at and period.start <= at < period.end:
                out.append(
                    {
                        "incident_id": s.id,
                        "number": s.number,
                        "clock": clock.name,
                        "priority": b.get("priority", s.priority),
                        "due_at": instant(b.get("due_at")),
                        "breached_at": at,
                    }
                )
    return sorted(out, key=lambda b: (b["breached_at"], b["incident_id"], b["clock"]))


def weekly_volume(stories: list[IncidentStory], period: Period) -> list[dict[str, Any]]:
    """Incidents opened per week of the period (weeks start on the period's first day), by priority."""
    weeks, start = [], period.start
    while start < period.end:
        end = min(start + timedelta(days=7), period.end)
        inside = [s for s in stories if start <= s.opened_at < end]
        weeks.append({"from": start, "to": end} | {p: sum(1 for s in inside if s.priority == p) for p in PRIORITIES})
        start = end
    return weeks
