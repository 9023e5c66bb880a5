"""On-call schedules (pure): layers of rotations and restrictions, and overrides, rendered into the final
shifts (who is on call from when to when, by which layer or override). PagerDuty's model, every rule in
docs/oncall.md:

- a layer rotates its users in order, one turn of `rotation.length` each, from its `start`; before `start`
  it has nobody;
- restrictions limit when a layer has anyone (the turns count on underneath, so a handoff inside a
  restriction window splits it);
- a later layer wins wherever it has someone; an override wins over every layer (the newest of overlapping
  overrides); where nobody has anyone, the schedule has a gap.

All arithmetic is wall-clock time in the schedule's zone (zoneinfo): a daily or weekly handoff stays at its
local time across DST; a 12 h turn that spans a change lasts 11 or 13 hours. A local time that does not exist
(clocks jump forward over it) is the instant of the jump; one that exists twice is the first.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from libs.config import Layer, Schedule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Override:
    """One person on call for a time range, over every layer."""

    id: str
    user: str
    start: datetime
    end: datetime
    created_at: datetime


@dataclass(frozen=True)
class Shift:
    """A user on call from `start` to `end` (UTC), by a layer's turn or by an override."""

    user: str
    start: datetime
    end: datetime
    layer: str | None = None
    override_id: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` as a UTC instant (see the module docstring for times that do not exist or
    exist twice)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # it exists (the first of two, in the hour that repeats)
    # In the gap the clocks jumped over: fold=1 reads it before the jump, fold=0 after; find the jump between.
    lo, hi = wall.replace(tzinfo=tz, fold=1).astimezone(UTC), first
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
            lo = mid
        else:
            hi = mid
    return hi


def turns(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> Iterator[Shift]:
    """The layer's turns (before restrictions) that overlap [start, end), in order."""
    length, users = layer.rotation.length, layer.users
    # The turn at `start`, found in wall-clock time and stepped back one: a DST change moves it by an hour at most.
    wall = start.astimezone(tz).replace(tzinfo=None)
    k = max(0, math.floor((wall - layer.start) / length) - 1)
    while (t0 := instant(layer.start + k * length, tz)) < end:
        t1 = instant(layer.start + (k + 1) * length, tz)
        if t1 > start and t1 > t0:
            yield Shift(users[k % len(users)], t0, t1, layer=layer.name)
        k += 1


def windows(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """When the layer's restrictions let it have anyone, overlapping [start, end), merged; everything if none."""
    if not layer.restrictions:
        return [(start, end)]
    first = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    found = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        for r in layer.restrictions:
            if WEEKDAYS[day.weekday()] not in r.days:
                continue
            a = instant(datetime.combine(day, r.start), tz)
            b = instant(datetime.combine(day + timedelta(days=int(r.end <= r.start)), r.end), tz)
            if a < end and b > start:
                found.append((a, b))
    return _merged(sorted(found))


def _merged(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def layer_shifts(layer: Layer, tz: ZoneInfo, start: datetime, end: datetime) -> list[Shift]:
    """The layer's turns within its restriction windows, clipped to [start, end)."""
    allowed = windows(layer, tz, start, end)
    out = []
    for turn in turns(layer, tz, start, end):
        for a, b in allowed:
            lo, hi = max(turn.start, a, start), min(turn.end, b, end)
            if lo < hi:
                out.append(Shift(turn.user, lo, hi, layer=layer.name))
    return out


def final_shifts(schedule: Schedule, overrides: Sequence[Override], start: datetime, end: datetime) -> list[Shift]:
    """Who is on call from `start` to `end`: each moment's winner (an override, else the last layer with
    someone), adjacent pieces of one user by one source joined; gaps are left out."""
    tz = ZoneInfo(schedule.timezone)
    layers = [layer_shifts(layer, tz, start, end) for layer in schedule.layers]
    mine = sorted((o for o in overrides if o.start < end and o.end > start), key=lambda o: o.created_at)
    edges = {start, end} | {t for shifts in layers for s in shifts for t in (s.start, s.end)}
    edges |= {t for o in mine for t in (o.start, o.end) if start < t < end}
    cuts = sorted(edges)
    out: list[Shift] = []
    for a, b in itertools.pairwise(cuts):
        winner = _winner(layers, mine, a)
        if winner is None:
            continue
        if out and out[-1].end == a and (out[-1].user, out[-1].layer, out[-1].override_id) == winner:
            out[-1] = Shift(out[-1].user, out[-1].start, b, out[-1].layer, out[-1].override_id)
        else:
            out.append(Shift(winner[0], a, b, winner[1], winner[2]))
    return out


def _winner(
    layers: list[list[Shift]], overrides: list[Override], at: datetime
) -> tuple[str, str | None, str | None] | None:
    for o in reversed(overrides):  # the newest override wins
        if o.start <= at < o.end:
            return o.user, None, o.id
    for shifts in reversed(layers):  # the last layer with someone wins
        for s in shifts:
            if s.covers(at):
                return s.user, s.layer, None
    return None


def horizon(schedule: Schedule) -> timedelta:
    """How far around a moment to render to see the whole shift it falls in (a shift longer than this is shown
    cut at its edge)."""
    return max(timedelta(days=8), 2 * max(layer.rotation.length for layer in schedule.layers))


def on_call(schedule: Schedule, overrides: Sequence[Override], at: datetime) -> Shift | None:
    """The shift covering `at` (None: a gap), with its real start and end."""
    around = horizon(schedule)
    return on_call_in(final_shifts(schedule, overrides, at - around, at + around), at)


def on_call_in(shifts: Sequence[Shift], at: datetime) -> Shift | None:
    """`on_call` from shifts already rendered around `at`."""
    return next((s for s in shifts if s.covers(at)), None)


def next_handoff(schedule: Schedule, overrides: Sequence[Override], at: datetime) -> datetime | None:
    """The first moment after `at` at which someone else, or nobody, is on call (None: not within the horizon)."""
    end = at + horizon(schedule)
    return next_handoff_in(final_shifts(schedule, overrides, at, end), at, end)


def next_handoff_in(rendered: Sequence[Shift], at: datetime, end: datetime) -> datetime | None:
    """`next_handoff` from shifts already rendered over [at, end) at least, looking no further than `end`."""
    shifts = [Shift(s.user, max(s.start, at), min(s.end, end), s.layer, s.override_id)
              for s in rendered if s.end > at and s.start < end]  # fmt: skip
    who = shifts[0].user if shifts and shifts[0].start == at else None
    t = at
    for s in shifts:
        if s.start > t:  # a gap from t: it starts now if someone was on, else it ends when s starts
            return t if who is not None else s.start
        if s.user != who:
            return s.start
        t = s.end  # the same person on by another layer or an override: no handoff
    return t if who is not None and t < end else None
