"""The on-call page laid out (pure): each schedule's final shifts cut into the days of a week (UTC days, as the
console shows every time), and who may add an override."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from libs.auth import Principal

OVERRIDERS = {"manager", "admin"}  # escalation's rule; the console only keeps the form off other pages


@dataclass(frozen=True)
class Piece:
    """The part of one shift that falls on one day."""

    user: str
    start: datetime
    end: datetime
    source: str  # "layer weekdays" or "override"

    @property
    def label(self) -> str:
        to = "24:00" if self.end.time() == time(0) and self.end > self.start else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}\u2013{to}"  # an en dash


def week_of(day: date) -> date:
    """The Monday of the week `day` is in."""
    return day - timedelta(days=day.weekday())


def _at(value: Any) -> datetime:
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def by_day(shifts: Sequence[Mapping[str, Any]], monday: date) -> list[list[Piece]]:
    """Seven lists, Monday first: the shifts (as the API gives them) cut at midnight UTC."""
    days: list[list[Piece]] = [[] for _ in range(7)]
    for s in shifts:
        start, end = _at(s["start"]), _at(s["end"])
        source = "override" if s.get("override_id") else f"layer {s.get('layer')}"
        for n in range(7):
            lo = datetime.combine(monday + timedelta(days=n), time(0), UTC)
            a, b = max(start, lo), min(end, lo + timedelta(days=1))
            if a < b:
                days[n].append(Piece(str(s["user"]), a, b, source))
    return days


def may_override(who: Principal) -> bool:
    return who.tenant is None and who.has_role(OVERRIDERS)
