"""SLA clocks (pure): the clocks an incident starts with under its contract, and a clock's whole arithmetic in
coverage time: its deadline, its warning and breach points, and what a stop, pause, resume, priority change,
reopen or firing does to it. Each change answers the clock after it; the store saves that."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from libs.calendar import Calendar, calendar_for
from libs.config import Tenant
from libs.contracts import Clock, IncidentOpened

MAX_TIER = 3
LATE_AFTER = timedelta(seconds=5)  # a deadline fired this long after its time is reported as late
BREACH = 1.0
Point = tuple[float, datetime]  # a fraction of the target and the instant it is reached


@dataclass(frozen=True)
class ClockPlan:
    clock: Clock
    target: timedelta
    due_at: datetime
    calendar: str
    coverage: dict[str, Any]
    warn_at: tuple[float, ...]
    next_fire_at: datetime
    cal: Calendar = field(repr=False, compare=False)  # `coverage`, built once


def _points(cal: Calendar, started: datetime, target_s: float, paused_s: float, fractions: Any) -> list[Point]:
    """(fraction, instant) for each fraction of the target, every coverage second paused added."""
    return [(f, cal.add(started, f * target_s + paused_s)) for f in (*fractions, BREACH)]


def plan_clocks(tenant: Tenant, priority: str, opened_at: datetime) -> list[ClockPlan]:
    """The response and resolution clocks an incident starts with, from the contract in force when it opened.

    The plan carries the whole contract it used (targets, calendar, warning fractions), so a later contract
    change leaves an open incident's clocks alone.
    """
    contract = tenant.contract_at(opened_at)
    target = contract.sla[priority]  # type: ignore[index]
    cal = calendar_for(contract.coverage)
    warn = tuple(contract.warn_at)
    plans = []
    for clock, length in (("response", target.respond), ("resolution", target.resolve)):
        points = _points(cal, opened_at, length.total_seconds(), 0.0, warn)
        due, first = points[-1][1], points[0][1]
        plans.append(ClockPlan(clock, length, due, cal.label, cal.spec(), warn, first, cal))  # type: ignore[arg-type]
    return plans


@dataclass(frozen=True, kw_only=True)
class SlaClock:
    """One of an incident's clocks with the contract terms it started under (fields as stored, in column order).

    `next_fire_at` is its next warning or breach; None once it cannot fire (stopped, paused or breached)."""

    incident_id: str
    clock: Clock
    tenant: str
    number: str
    priority: str
    tier: int
    calendar: str  # the calendar's name, carried by every SLA event
    target_s: float
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    fired_late: bool | None = None
    coverage: dict[str, Any]  # the calendar's definition, as it was when the clock started
    warn_at: tuple[float, ...]
    warned: int = 0  # how many of the warnings have fired
    paused_at: datetime | None = None
    pause_reason: str | None = None
    paused_s: float = 0.0  # coverage time spent paused (and resolved, before a reopen)
    next_fire_at: datetime | None = None
    started_tier: int  # the incident's tier when the clock started: the tier that owed the response
    cal: Calendar = field(repr=False, compare=False)  # `coverage`, built once per record

    @classmethod
    def start(cls, plan: ClockPlan, opened: IncidentOpened, *, tenant: str) -> SlaClock:
        return cls(
            incident_id=opened.incident_id,
            clock=plan.clock,
            tenant=tenant,
            number=opened.number,
            priority=opened.priority,
            tier=opened.tier,
            calendar=plan.calendar,
            target_s=plan.target.total_seconds(),
            started_at=opened.opened_at,
            due_at=plan.due_at,
            coverage=plan.coverage,
            warn_at=plan.warn_at,
            next_fire_at=plan.next_fire_at,
            started_tier=opened.tier,
            cal=plan.cal,
        )

    def fire_points(self) -> list[Point]:
        """The unfired points, in order: each warning left, then the breach (1.0)."""
        return _points(self.cal, self.started_at, self.target_s, self.paused_s, self.warn_at[self.warned :])

    def next_fire(self) -> datetime | None:
        if self.stopped_at or self.paused_at or self.breached_at:
            return None
        return self.fire_points()[0][1]

    def counted_s(self, at: datetime) -> float:
        """Coverage time counted against the target from the start until `at`, pauses excluded."""
        return max(0.0, self.cal.between(self.started_at, at) - self.paused_s)

    def _rescheduled(self, **changes: Any) -> SlaClock:
        """The clock after `changes`, its deadline and next point worked out again from target and pauses."""
        c = replace(self, **changes)
        return replace(c, due_at=c.cal.add(c.started_at, c.target_s + c.paused_s), next_fire_at=c.next_fire())

    def stop(self, at: datetime) -> SlaClock:
        """Stopped at `at` (acknowledged, resolved, closed); a pause still running counts as paused until then."""
        paused_s = self.paused_s + (self.cal.between(self.paused_at, at) if self.paused_at else 0.0)
        return replace(self, stopped_at=at, paused_at=None, paused_s=paused_s, next_fire_at=None)

    def pause(self, at: datetime, reason: str) -> SlaClock | None:
        """Paused at `at` (on hold); None when already paused, or already breached: nothing left to protect."""
        if self.paused_at is not None or self.breached_at is not None:
            return None
        return replace(self, paused_at=at, pause_reason=reason, next_fire_at=None)

    def resume(self, at: datetime) -> Restart | None:
        """Counting again at `at` (off hold); the deadline moves by the coverage time paused. None if not paused."""
        if self.paused_at is None:
            return None
        return self._restart(self.paused_at, at, paused_at=None, pause_reason=None)

    def reopen(self, at: datetime) -> Restart:
        """A stopped clock counting on at `at`: the time spent resolved is treated like a pause."""
        assert self.stopped_at is not None, "only a stopped clock reopens"
        return self._restart(self.stopped_at, at, stopped_at=None)

    def _restart(self, since: datetime, at: datetime, **changes: Any) -> Restart:
        at = max(at, since)  # an event stamped before the pause began does not count time backwards
        gap = self.cal.between(since, at)
        return Restart(self._rescheduled(paused_s=self.paused_s + gap, **changes), at, gap)

    def retarget(self, priority: str, target_s: float) -> SlaClock:
        """The new priority's target, counted from the same start; fired warnings and a fired breach stay."""
        return self._rescheduled(priority=priority, target_s=target_s)

    def fire(self, at: datetime) -> Firing:
        """Every point due by `at`, fired: the warnings in order, then the breach if it is due too."""
        warnings: list[Point] = []
        breached, next_at = False, None
        for fraction, point in self.fire_points():
            if point > at:
                next_at = point
                break
            if fraction == BREACH:
                breached = True
            else:
                warnings.append((fraction, point))
        changes: dict[str, Any] = {"warned": self.warned + len(warnings), "next_fire_at": next_at}
        if breached and self.breached_at is None:  # a breach is a fact once fired: never moved, never twice
            changes |= {"breached_at": at, "fired_late": is_late(self.due_at, at)}
        fired = replace(self, **changes)
        return Firing(fired, at, tuple(warnings), breached)

    def escalates_to(self) -> int | None:
        """The tier a breach of this clock asks for (one above the tier that owed the response), if any."""
        return escalation_after_breach(self.clock, self.started_tier)


@dataclass(frozen=True)
class Restart:
    clock: SlaClock  # after the restart
    at: datetime  # when it counts again
    gap_s: float  # coverage time it did not count (this pause, or the time spent resolved)


@dataclass(frozen=True)
class Firing:
    clock: SlaClock  # after firing
    at: datetime
    warnings: tuple[Point, ...]  # each warning fired, in order
    breached: bool

    @property
    def late(self) -> bool:
        return is_late(self.clock.due_at, self.at)


def sla_snapshot(tenant: Tenant, opened_at: datetime) -> dict[str, dict[str, float]]:
    """The targets for every priority of the contract in force when the incident opened, in seconds, kept with
    the incident for priority changes."""
    return {
        p: {"response": t.respond.total_seconds(), "resolution": t.resolve.total_seconds()}
        for p, t in tenant.contract_at(opened_at).sla.items()
    }


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
