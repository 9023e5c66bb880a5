"""One tenant's service report for one period: the stories read from the ledger, turned into figures (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from libs.calendar import Calendar, calendar_for
from libs.config import Tenant
from services.reporting.domain import contracts, lists
from services.reporting.domain import figures as fig
from services.reporting.domain.availability import availability
from services.reporting.domain.period import Period
from services.reporting.domain.protection import control_coverage, data_protection
from services.reporting.domain.stories import Event, IncidentStory, change_stories, change_windows, incident_stories


@dataclass
class LedgerSlice:
    """What the store read for one tenant and period."""

    incident_events: list[Event]  # of incidents opened in the period, or breached in it
    change_events: list[Event]  # every change event of the tenant
    ledger_events: int  # ledger rows whose envelope time is in the period
    signal_events: list[Event] = field(default_factory=list)  # backup runs, restore tests, control results


def coverage_of(tenant: Tenant) -> Callable[[IncidentStory, datetime, datetime], float]:
    """Coverage seconds by the calendar an incident's clock started with (a contract change does not
    rewrite history), else by the calendar of the contract version in force when it opened."""

    def seconds(story: IncidentStory, a: datetime, b: datetime) -> float:
        cal: Calendar = calendar_for(tenant.contract_at(story.opened_at).coverage)
        for name in ("resolution", "response"):
            clock = story.clocks.get(name)
            if clock and clock.started and clock.started.get("coverage"):
                cal = calendar_for(clock.started["coverage"])
                break
        return cal.between(a, b)

    return seconds


def build(tenant: Tenant, period: Period, ledger: LedgerSlice, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The report of `tenant` for `period`, as known at `as_of` (default: the period's end, a closed period)."""
    stories = incident_stories(ledger.incident_events)
    opened = [s for s in stories.values() if period.start <= s.opened_at < period.end]
    # The others by the same test, not `s not in opened`: a list lookup comparing dataclasses field by field
    # made this quadratic (minutes for a month of 200,000 incidents).
    others = [s for s in stories.values() if not period.start <= s.opened_at < period.end]
    changes = list(change_stories(ledger.change_events).values())
    windows = change_windows(ledger.change_events)
    unmanaged = sum(
        1 for e in ledger.change_events if e.type == "change.unmanaged_recorded" and period.start <= e.at < period.end
    )
    coverage = coverage_of(tenant)
    as_of = period.end if as_of is None else as_of
    avail = availability(opened + others, windows, tenant, period, as_of=as_of)
    measured_to = min(period.end, as_of)  # a period still running is measured to now, as availability is
    data = data_protection(tenant, ledger.signal_events, period.start, period.end, measured_to)
    controls = control_coverage(tenant, ledger.signal_events, measured_to if measured_to > period.start else None)
    spans = tenant.contracts_between(period.start, period.end)
    return {
        "tenant": tenant.id,
        "name": tenant.name,
        # The terms in force at the period's end, and every version it covered in words and in full.
        "contract": {
            "tier": spans[-1].contract.tier,
            "coverage": spans[-1].contract.coverage.label,
            "summary": contracts.summary(spans, period),
        },
        "contracts": contracts.versions(tenant, period, opened),
        "period": {"from": period.start, "to": period.end},
        **fig.incident_figures(opened, coverage),
        "breaches": fig.breaches(stories.values(), period),
        "availability": avail,
        "changes": fig.change_figures(changes, unmanaged, period),
        "data_protection": data,
        "compliance_controls": controls,
        "families": fig.families(opened, avail, coverage, data=data, controls=controls),
        "weekly_volume": fig.weekly_volume(opened, period),
        "incident_list": lists.incidents(opened, changes, tenant),
        "change_list": lists.changes(changes, tenant, period),
        "sla_compliance_target_pct": contracts.compliance_target(tenant, opened, period),
        "ledger_events": ledger.ledger_events,
    }


HEADLINES = ("incidents", "mtta_seconds", "mttr_seconds", "mttr_coverage_seconds", "mttd_seconds")


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a trend compares across periods (quarterly business reviews)."""
    services = report["availability"]["services"]
    pcts = [s["availability_pct"] for s in services if s["availability_pct"] is not None]
    return {
        "period": report["period"],
        **{k: report[k] for k in HEADLINES},
        "response_compliance_pct": report["response_sla"]["compliance_pct"],
        "resolution_compliance_pct": report["resolution_sla"]["compliance_pct"],
        "availability_pct": round(min(pcts), 4) if pcts else None,  # the worst service
        "breaches": len(report["breaches"]),
        "changes_implemented": report["changes"]["implemented"],
    }
