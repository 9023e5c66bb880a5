"""The change calendar laid out: a week (seven days) or a month (whole weeks, Monday first), each day with the
changes that touch it, the freezes that shade it, and conflicts flagged. Days are UTC days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

VIEWS = ("week", "month")
# Changes that hold (or ask for) their window on the CIs: two of them overlapping on a CI is a conflict.
ACTIVE = {"submitted", "assessment", "approved", "scheduled", "implementing"}


@dataclass
class Entry:
    item: Mapping[str, Any]
    start: datetime
    end: datetime
    conflicts: list[str] = field(default_factory=list)  # the numbers it clashes with
    frozen: list[str] = field(default_factory=list)  # freezes it falls into

    @property
    def flagged(self) -> bool:
        return bool(self.conflicts or self.frozen)


@dataclass
class Day:
    day: date
    in_range: bool  # a month view's days of the weeks around it are shown, dimmed
    entries: list[Entry] = field(default_factory=list)
    freezes: list[str] = field(default_factory=list)


@dataclass
class Layout:
    view: str
    start: date
    end: date  # exclusive
    weeks: list[list[Day]]
    prev: date
    next: date
    title: str


def _at(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def span_for(view: str, anchor: date) -> tuple[date, date, date, date]:
    """(first day shown, day after the last, previous anchor, next anchor)."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=7), first - timedelta(days=7), first + timedelta(days=7)
    first_of_month = anchor.replace(day=1)
    next_month = (first_of_month + timedelta(days=32)).replace(day=1)
    last = next_month - timedelta(days=1)
    start = first_of_month - timedelta(days=first_of_month.weekday())
    end = last + timedelta(days=7 - last.weekday())
    prev = (first_of_month - timedelta(days=1)).replace(day=1)
    return start, end, prev, next_month


def _entries(items: Sequence[Mapping[str, Any]], freezes: Sequence[Mapping[str, Any]]) -> list[Entry]:
    out = []
    for item in items:
        start = _at(item.get("start"))
        if start is None:
            continue
        end = _at(item.get("end")) or start + timedelta(minutes=30)  # a tool's change: a moment, drawn small
        out.append(Entry(item, start, max(end, start + timedelta(minutes=1))))
    booked = [e for e in out if e.item.get("kind") == "managed" and e.item.get("state") in ACTIVE]
    for i, a in enumerate(booked):
        for b in booked[i + 1 :]:
            same_ci = set(a.item.get("cis") or [a.item.get("ci")]) & set(b.item.get("cis") or [b.item.get("ci")])
            if a.item.get("tenant") == b.item.get("tenant") and same_ci and a.start < b.end and b.start < a.end:
                a.conflicts.append(str(b.item.get("number")))
                b.conflicts.append(str(a.item.get("number")))
    for e in booked:
        for f in freezes:
            f_start, f_end = _at(f.get("start")), _at(f.get("end"))
            cis = set(f.get("cis") or [])
            hits_ci = not cis or cis & set(e.item.get("cis") or [])
            if f_start and f_end and f.get("tenant") == e.item.get("tenant") and hits_ci:
                if e.start < f_end and f_start < e.end:
                    e.frozen.append(str(f.get("name")))
    return out


def layout(view: str, anchor: date, items: Sequence[Mapping[str, Any]], freezes: Sequence[Mapping[str, Any]]) -> Layout:
    start, end, prev, nxt = span_for(view, anchor)
    entries = _entries(items, freezes)
    days: list[Day] = []
    d = start
    month_start, month_end = (anchor.replace(day=1), nxt) if view == "month" else (start, end)
    while d < end:
        lo = datetime.combine(d, time(), UTC)
        hi = lo + timedelta(days=1)
        day = Day(d, month_start <= d < month_end)
        day.entries = sorted((e for e in entries if e.start < hi and lo < e.end), key=lambda e: e.start)
        for f in freezes:
            f_start, f_end = _at(f.get("start")), _at(f.get("end"))
            if f_start and f_end and f_start < hi and lo < f_end and f.get("name") not in day.freezes:
                day.freezes.append(str(f.get("name")))
        days.append(day)
        d += timedelta(days=1)
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    if view == "week":
        title = f"Week of {start:%d %b %Y}"
    else:
        title = f"{anchor:%B %Y}"
    return Layout(view, start, end, weeks, prev, nxt, title)
