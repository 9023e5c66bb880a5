"""Scheduling rules: freeze windows, CI maintenance windows, and conflicts with other changes. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from libs.config import FreezeWindow, Tenant, WeeklyMaintenance
from services.change.domain.changes import ChangeRefused, ChangeRequest

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Changes whose window is booked: they hold their CIs and their implementer.
BOOKED_STATES = ("approved", "scheduled", "implementing")


class InFreeze(ChangeRefused):
    code = "change_freeze"


class ScheduleConflict(ChangeRefused):
    code = "schedule_conflict"


class OutsideWindow(ChangeRefused):
    """Implementation starting well before its approved window, or after it ended: unapproved timing."""

    code = "outside_window"


def check_start(
    change: ChangeRequest, *, at: datetime, early: timedelta, override_reason: str | None
) -> list[dict[str, Any]]:
    """The override taken to start now (recorded on the change), or [] when `at` is inside the window."""
    start, end = change.planned_start, change.planned_end
    if start is None or end is None or start - early <= at < end:
        return []
    details = [{"planned_start": start.isoformat(), "planned_end": end.isoformat(),
                "earliest_start": (start - early).isoformat()}]  # fmt: skip
    if not override_reason:
        when = "before its approved window" if at < start - early else "after its approved window ended"
        raise OutsideWindow(f"{change.number} would start {when}; send override_reason to start anyway", details)
    return [{"kind": "outside_window", "reason": override_reason, "details": details}]


class WindowOpen(ChangeRefused):
    """A change whose window has opened cannot be rescheduled: it is started, or cancelled and raised anew."""

    code = "window_open"


@dataclass(frozen=True)
class Conflict:
    kind: str  # ci_overlap | outside_maintenance_window | implementer_double_booked
    message: str
    ci: str | None = None
    change_id: str | None = None
    number: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open windows: one ending exactly when the next starts does not overlap it."""
    return a_start < b_end and b_start < a_end


def freezes_hit(tenant: Tenant, cis: list[str], start: datetime, end: datetime) -> list[FreezeWindow]:
    return [
        f
        for f in tenant.changes.freezes
        if overlaps(start, end, f.start, f.end) and (not f.cis or set(f.cis) & set(cis))
    ]


def _fits(window: WeeklyMaintenance, start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies inside one occurrence of a weekly window (in the window's time zone)."""
    zone = ZoneInfo(window.timezone)
    local = start.astimezone(zone)
    for back in (1, 0):  # an occurrence that began the day before may still be open (past midnight)
        day = local.date() - timedelta(days=back)
        if _WEEKDAYS[day.weekday()] not in window.days:
            continue
        opens = datetime.combine(day, window.start, zone)
        closes = datetime.combine(day + timedelta(days=window.end <= window.start), window.end, zone)
        if opens <= start and end <= closes:
            return True
    return False


def maintenance_conflicts(tenant: Tenant, cis: list[str], start: datetime, end: datetime) -> list[Conflict]:
    out = []
    for ci in cis:
        item = tenant.ci_index.get(ci)
        if item and item.maintenance_windows and not any(_fits(w, start, end) for w in item.maintenance_windows):
            message = f"the window is outside {ci}'s maintenance windows"
            out.append(Conflict("outside_maintenance_window", message, ci=ci))
    return out


def booking_conflicts(change: ChangeRequest, others: list[ChangeRequest]) -> list[Conflict]:
    """Other booked changes overlapping this one's window on a shared CI or with the same implementer."""
    assert change.planned_start and change.planned_end
    out = []
    for other in others:
        if other.id == change.id or other.state not in BOOKED_STATES or not other.planned_start:
            continue
        assert other.planned_end
        if not overlaps(change.planned_start, change.planned_end, other.planned_start, other.planned_end):
            continue
        for ci in [c for c in change.cis if c in other.cis]:
            message = f"{other.number} ({other.state}) changes {ci} in an overlapping window"
            out.append(Conflict("ci_overlap", message, ci=ci, change_id=other.id, number=other.number))
        if change.implementer and change.implementer == other.implementer:
            message = f"{change.implementer} also implements {other.number} in an overlapping window"
            out.append(Conflict("implementer_double_booked", message, change_id=other.id, number=other.number))
    return out


def check_schedule(
    tenant: Tenant, change: ChangeRequest, others: list[ChangeRequest], *, override_reason: str | None
) -> list[dict[str, Any]]:
    """Refuse a window in a freeze (emergencies may override) or with conflicts (anyone may override, with a
    reason). Returns the overrides taken, to be recorded on the change.

    A refusal lists everything one override_reason would override, freezes and conflicts alike: a manager
    overriding a freeze must not also override conflicts nobody showed them.
    """
    start, end = change.planned_start, change.planned_end
    assert start and end
    frozen = freezes_hit(tenant, change.cis, start, end)
    freeze_details = [{"freeze": f.name, "start": f.start.isoformat(), "end": f.end.isoformat()} for f in frozen]
    conflicts = maintenance_conflicts(tenant, change.cis, start, end) + booking_conflicts(change, others)
    conflict_details = [c.as_dict() for c in conflicts]
    also = f"; it also conflicts ({len(conflicts)})" if conflicts else ""
    if frozen and change.change_type != "emergency":
        names = ", ".join(f.name for f in frozen)
        message = f"the window falls in a change freeze ({names}); only an emergency change may override it{also}"
        raise InFreeze(message, freeze_details + conflict_details)
    if not override_reason:
        if frozen:
            message = f"the window falls in a change freeze{also}; send override_reason to override all listed"
            raise InFreeze(message, freeze_details + conflict_details)
        if conflicts:
            raise ScheduleConflict("the window conflicts; send override_reason to schedule anyway", conflict_details)
    overrides: list[dict[str, Any]] = []
    if frozen:
        overrides.append({"kind": "change_freeze", "reason": override_reason, "details": freeze_details})
    if conflicts:
        overrides.append({"kind": "schedule_conflict", "reason": override_reason, "details": conflict_details})
    return overrides
