"""The report's lists, item by item (pure): each incident opened in the period with its SLA outcome and
the change suspected of causing it, each change worked on in the period with the incidents it caused, and
when an incident's clocks waited for coverage hours to begin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from libs.calendar import calendar_for
from libs.config import Tenant
from services.reporting.domain.period import Period
from services.reporting.domain.stories import IMPLEMENTED, ChangeStory, IncidentStory, instant


def _outcome(story: IncidentStory, clock: str) -> str | None:
    """met, breached, open (still counting), or None when the clock never started (nothing was promised)."""
    c = story.clocks.get(clock)
    if c is None or c.started is None:
        return None
    return {True: "met", False: "breached", None: "open"}[c.met]


def counting_from(story: IncidentStory, tenant: Tenant) -> datetime | None:
    """When its clocks began counting, if the incident opened outside coverage hours (else None): the
    calendar is the one its clock started with, so a later contract change does not rewrite it."""
    started = next((c.started for c in story.clocks.values() if c.started), None)
    at = instant(started.get("started_at")) if started else None
    if started is None or at is None:
        return None
    cal = calendar_for(started.get("coverage") or tenant.contract_at(story.opened_at).coverage)
    return None if cal.is_covered(at) else cal.add(at, 0)


def incidents(stories: list[IncidentStory], changes: list[ChangeStory], tenant: Tenant) -> list[dict[str, Any]]:
    suspected: dict[str, list[str]] = {}
    for c in changes:
        for iid in c.linked:
            if iid not in c.cleared:
                suspected.setdefault(iid, []).append(c.number)
    out = []
    for s in sorted(stories, key=lambda s: (s.opened_at, s.number)):
        ci = tenant.ci_index.get(s.ci or "")
        out.append({
            "number": s.number, "title": s.title, "type": s.kind, "priority": s.priority, "ci": s.ci,
            "service": ci.name if ci else s.ci, "opened_at": s.opened_at, "resolved_at": s.last_resolved,
            "response": _outcome(s, "response"), "resolution": _outcome(s, "resolution"),
            "suspected_changes": sorted(suspected.get(s.id, [])), "counting_from": counting_from(s, tenant),
        })  # fmt: skip
    return out


def _result(c: ChangeStory) -> str:
    if c.at(*IMPLEMENTED):
        return "failed" if c.at("change.failed") or c.caused_incidents else "successful"
    return c.state  # rejected, cancelled, or where it stands (approved, scheduled, ...)


def changes(stories: list[ChangeStory], tenant: Tenant, period: Period) -> list[dict[str, Any]]:
    """Every change with something recorded in the period, in the order it was first worked on in it."""
    worked = []
    for c in stories:
        times = [t for e in c.events if period.start <= (t := instant(e.data.get("at")) or e.at) < period.end]
        if times:
            worked.append((c, min(times)))
    out = []
    for c, _ in sorted(worked, key=lambda pair: (pair[1], pair[0].number)):
        out.append({
            "number": c.number, "title": c.title, "change_type": c.change_type,
            "services": [tenant.ci_index[ci].name if ci in tenant.ci_index else ci for ci in c.cis],
            "implemented_at": c.at(*IMPLEMENTED), "result": _result(c),
            "caused_incidents": sorted(c.caused_incidents),
        })  # fmt: skip
    return out
