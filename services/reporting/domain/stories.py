"""What the ledger says happened to each incident and change, rebuilt from its events (pure).

The figures (figures.py) and the per-incident SLA explanation (explain.py) both read these stories, so a
minute counted in one is the same minute shown in the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from libs.contracts import each_clock_started


def instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class Event:
    """One ledger row: its type, payload and the envelope time (recording order is the list order)."""

    type: str
    data: dict[str, Any]
    at: datetime
    event_id: str = ""


@dataclass
class Clock:
    name: str
    started: dict[str, Any] | None = None
    stopped: dict[str, Any] | None = None
    breached: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    pauses: list[dict[str, Any]] = field(default_factory=list)  # sla.clock_paused payloads
    resumes: list[dict[str, Any]] = field(default_factory=list)  # sla.clock_resumed payloads
    retargets: list[dict[str, Any]] = field(default_factory=list)  # sla.clock_retargeted (priority changed)
    earlier_stops: list[dict[str, Any]] = field(default_factory=list)  # stops undone by a reopen

    @property
    def target_s(self) -> float | None:
        """The target the clock runs to now: the latest priority's, else the one it started with."""
        if self.retargets:
            return float(self.retargets[-1]["target_s"])
        return None if self.started is None else self.started.get("target_s")

    @property
    def met(self) -> bool | None:
        """True met, False breached, None still running (or stopped late without a recorded breach)."""
        if self.breached is not None:
            return False
        if self.stopped is not None and self.stopped.get("met"):
            return True
        return None


@dataclass
class IncidentStory:
    id: str
    number: str
    priority: str
    category: str | None
    tier: int  # the tier it started at
    source: str
    ci: str | None
    kind: str  # incident | request
    opened_at: datetime
    detected_at: datetime | None
    title: str = ""
    acknowledged: list[datetime] = field(default_factory=list)
    resolved: list[datetime] = field(default_factory=list)
    escalations: int = 0
    reassignments: int = 0
    reopens: int = 0
    holds: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)  # (reason, on, off)
    closed_at: datetime | None = None
    clocks: dict[str, Clock] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def first_ack(self) -> datetime | None:
        return min(self.acknowledged) if self.acknowledged else None

    @property
    def last_resolved(self) -> datetime | None:
        """When it was finally resolved: None while open (or reopened and not resolved again)."""
        if not self.resolved:
            return None
        last = max(self.resolved)
        return None if self.reopened_after(last) else last

    def reopened_after(self, at: datetime) -> bool:
        return any(e.type == "incident.reopened" and (instant(e.data.get("at")) or e.at) > at for e in self.events)

    def clock(self, name: str) -> Clock:
        return self.clocks.setdefault(name, Clock(name))


# The kinds of event a story reads: incident.opened and every kind _apply matches. The report reads only these
# from the ledger (escalation steps, alerts added, notes and the like change no story and were most of the rows).
STORY_TYPES = (
    "incident.opened",
    "incident.acknowledged",
    "incident.resolved",
    "incident.escalated",
    "incident.assigned",
    "incident.reopened",
    "incident.held",
    "incident.resumed",
    "incident.closed",
    "incident.priority_changed",
    "sla.clocks_started",
    "sla.clock_started",
    "sla.clock_stopped",
    "sla.breached",
    "sla.warning",
    "sla.clock_paused",
    "sla.clock_resumed",
    "sla.clock_retargeted",
)


def _apply(story: IncidentStory, e: Event) -> None:
    d, at = e.data, instant(e.data.get("at")) or e.at
    story.events.append(e)
    match e.type:
        case "incident.acknowledged":
            story.acknowledged.append(at)
        case "incident.resolved":
            story.resolved.append(at)
        case "incident.escalated":
            story.escalations += 1
        case "incident.assigned" if d.get("previous"):
            story.reassignments += 1  # a first assignment is not a reassignment
        case "incident.reopened":
            story.reopens += 1
        case "incident.held":
            story.holds.append((d.get("reason", "?"), at, None))
        case "incident.resumed":
            for i in range(len(story.holds) - 1, -1, -1):
                reason, on, off = story.holds[i]
                if off is None:
                    story.holds[i] = (reason, on, at)
                    break
        case "incident.closed":
            story.closed_at = at
        case "incident.priority_changed":
            story.priority = d.get("to_priority", story.priority)
        case "sla.clocks_started":  # an opening's clocks in one event: each as the sla.clock_started it replaces
            for one in each_clock_started(d):
                story.clock(one["clock"]).started = one
        case "sla.clock_started":  # one clock per event: what ledgers recorded before sla.clocks_started
            story.clock(d["clock"]).started = d
        case "sla.clock_stopped":
            story.clock(d["clock"]).stopped = d
        case "sla.breached":
            story.clock(d["clock"]).breached = story.clock(d["clock"]).breached or d
        case "sla.warning":
            story.clock(d["clock"]).warnings.append(d)
        case "sla.clock_paused":
            story.clock(d["clock"]).pauses.append(d)
        case "sla.clock_resumed":
            clock = story.clock(d["clock"])
            if d.get("reason") == "reopened" and clock.stopped is not None:
                # The incident came back: the resolution clock counts on, so its earlier stop decides nothing.
                clock.earlier_stops.append(clock.stopped)
                clock.stopped = None
            clock.resumes.append(d)
        case "sla.clock_retargeted":
            story.clock(d["clock"]).retargets.append(d)


def incident_stories(events: Iterable[Event]) -> dict[str, IncidentStory]:
    """One story per incident that has an `incident.opened` event; events of unknown incidents are dropped."""
    stories: dict[str, IncidentStory] = {}
    pending: list[Event] = []
    for e in events:
        iid = e.data.get("incident_id")
        if not iid:
            continue
        if e.type == "incident.opened" and iid not in stories:
            d = e.data
            stories[iid] = IncidentStory(
                id=iid,
                number=d.get("number", ""),
                priority=d.get("priority", "P3"),
                category=d.get("category"),
                tier=int(d.get("tier") or 1),
                source=d.get("source", "?"),
                ci=d.get("ci"),
                kind=d.get("type") or "incident",
                opened_at=instant(d["opened_at"]) or e.at,
                detected_at=instant(d.get("detected_at")),
                title=d.get("title") or "",
            )
        elif e.type != "incident.opened":
            pending.append(e)
    for e in pending:  # in recording order, after every story exists
        if (story := stories.get(e.data["incident_id"])) is not None:
            _apply(story, e)
    return stories


@dataclass
class ChangeStory:
    id: str
    number: str
    change_type: str
    cis: list[str]
    title: str
    state: str
    events: list[Event] = field(default_factory=list)
    linked: dict[str, dict[str, Any]] = field(default_factory=dict)  # incident id -> link payload
    cleared: set[str] = field(default_factory=set)

    def at(self, *types: str) -> datetime | None:
        """When the last event of one of these types happened."""
        times = [instant(e.data.get("at")) or e.at for e in self.events if e.type in types]
        return max(times) if times else None

    @property
    def caused_incidents(self) -> list[str]:
        """Suspected-cause incidents that count against the change (P1/P2, not cleared by a reviewer), by the
        number people know them by (ACME-42)."""
        return [
            link.get("incident_number") or i
            for i, link in self.linked.items()
            if link.get("counts_as_failed") and i not in self.cleared
        ]


IMPLEMENTED = ("change.completed", "change.failed")
ENDED_UNDONE = ("change.rejected", "change.cancelled")


def change_stories(events: Iterable[Event]) -> dict[str, ChangeStory]:
    stories: dict[str, ChangeStory] = {}
    for e in events:
        d = e.data
        cid = d.get("change_id")
        if not cid or not e.type.startswith("change."):
            continue
        story = stories.get(cid)
        if story is None:
            cis = list(d.get("cis") or ([d["ci"]] if d.get("ci") else []))
            story = stories[cid] = ChangeStory(
                cid, d.get("number", ""), d.get("change_type", "normal"), cis, d.get("title", ""), d.get("state", "")
            )
        story.events.append(e)
        if "state" in d and e.type not in ("change.incident_linked", "change.incident_cleared"):
            story.state = d["state"]
        if e.type == "change.incident_linked":
            story.linked[d["incident_id"]] = d
        elif e.type == "change.incident_cleared":
            story.cleared.add(d["incident_id"])
    return stories


def change_windows(events: Iterable[Event]) -> list[tuple[list[str], datetime, datetime]]:
    """Approved change windows as they happened: (CIs, started, ended or planned end)."""
    started: dict[str, tuple[list[str], datetime, datetime]] = {}
    out: list[tuple[list[str], datetime, datetime]] = []
    for e in events:
        d = e.data
        if e.type == "change.window_started":
            started[d["change_id"]] = (list(d.get("cis", [])), instant(d["at"]) or e.at, instant(d["ends_at"]) or e.at)
        elif e.type == "change.window_ended" and d["change_id"] in started:
            cis, on, _ = started.pop(d["change_id"])
            out.append((cis, on, instant(d["at"]) or e.at))
    out += started.values()  # still open: counted to its planned end
    return out
