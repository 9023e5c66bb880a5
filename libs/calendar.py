"""Coverage-time arithmetic: when SLA time counts, in a tenant's own time zone, minus its holidays.

Pure (no I/O): escalation computes deadlines with it and reporting re-computes figures in coverage hours.
A business-hours calendar is a set of daily windows [start, end) in local wall-clock time, on the chosen
weekdays, except public holidays (the `holidays` package) and extra dates. Windows are turned into UTC
instants before any subtraction, so a DST change shortens or lengthens a day by exactly what it should.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from libs.config import Coverage

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # a calendar with no coverage in three years is a configuration error, not a loop


class NoCoverage(ValueError):
    """The calendar has no covered time within MAX_DAYS of the instant asked about."""


class Calendar:
    """Coverage time for one contract. Instants in and out are timezone-aware datetimes."""

    def __init__(self, coverage: Coverage) -> None:
        self.coverage = coverage
        self.always = coverage.hours == "24x7"
        self.zone = ZoneInfo(coverage.timezone)
        self.days = {WEEKDAYS.index(d) for d in coverage.days}
        self.extra = {date.fromisoformat(d) for d in coverage.extra_holidays}
        self._holidays: dict[int, set[date]] = {}

    @property
    def label(self) -> str:
        """Human-readable name of the calendar, carried by every SLA event."""
        c = self.coverage
        if self.always:
            return "24x7"
        extra = f" holidays {c.holidays_country}{'-' + c.holidays_subdivision if c.holidays_subdivision else ''}"
        return c.label + (extra if c.holidays_country else "") + (f" +{len(self.extra)} dates" if self.extra else "")

    def spec(self) -> dict[str, Any]:
        """The full coverage definition (JSON-able): enough for anyone to rebuild this calendar."""
        return self.coverage.model_dump(mode="json")

    def is_holiday(self, day: date) -> bool:
        if day in self.extra:
            return True
        if not self.coverage.holidays_country:
            return False
        if day.year not in self._holidays:
            found = holidays_lib.country_holidays(
                self.coverage.holidays_country, subdiv=self.coverage.holidays_subdivision, years=day.year
            )
            self._holidays[day.year] = set(found.keys())
        return day in self._holidays[day.year]

    def windows(self, after: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Covered intervals (UTC) that end after `after`, in order; the first may begin before it."""
        day = after.astimezone(self.zone).date() - timedelta(days=1)  # a window may straddle UTC midnight
        for _ in range(MAX_DAYS):
            if day.weekday() in self.days and not self.is_holiday(day):
                start = datetime.combine(day, self.coverage.start, self.zone).astimezone(UTC)
                end = datetime.combine(day, self.coverage.end, self.zone).astimezone(UTC)
                if end > after and end > start:
                    yield start, end
            day += timedelta(days=1)
        raise NoCoverage(f"no coverage within {MAX_DAYS} days of {after.isoformat()} in calendar {self.label}")

    def add(self, at: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of coverage time have passed since `at`.

        Opened outside coverage, the count starts at the next window's start. Adding 0 returns `at` itself
        when it is covered, else the next window's start.
        """
        if self.always:
            return at + timedelta(seconds=seconds)
        left = timedelta(seconds=seconds)
        for start, end in self.windows(at):
            begin = max(start, at)
            if begin + left <= end:
                return (begin + left).astimezone(at.tzinfo)
            left -= end - begin
        raise AssertionError("unreachable: windows() raises when it runs out")

    def between(self, a: datetime, b: datetime) -> float:
        """Coverage seconds in [a, b); 0 when b <= a."""
        if b <= a:
            return 0.0
        if self.always:
            return (b - a).total_seconds()
        total = timedelta(0)
        for start, end in self.windows(a):
            if start >= b:
                break
            total += min(end, b) - max(start, a)
        return total.total_seconds()

    def is_covered(self, at: datetime) -> bool:
        return self.always or self.between(at, at + timedelta(microseconds=1)) > 0


@lru_cache(maxsize=1024)
def _cached(spec_json: str) -> Calendar:
    return Calendar(Coverage.model_validate_json(spec_json))


def calendar_from_json(spec_json: str) -> Calendar:
    """A cached Calendar for a stored coverage definition (a JSON text, as PostgreSQL returns jsonb)."""
    return _cached(spec_json)


_BY_REPR: dict[str, Calendar] = {}


def calendar_for(coverage: Coverage | dict[str, Any]) -> Calendar:
    """A (shared, cached) Calendar for a coverage definition or its `spec()`; holiday tables load once."""
    if isinstance(coverage, Coverage):
        return _cached(json.dumps(coverage.model_dump(mode="json"), sort_keys=True))
    # A report asks once per incident with the dict its clock event carried: repr() finds the calendar several
    # times faster than the sorted JSON that keys the cache (same calendar: equal dicts have equal JSON).
    key = repr(coverage)
    cal = _BY_REPR.get(key)
    if cal is None:
        if len(_BY_REPR) >= 1024:
            _BY_REPR.clear()
        cal = _BY_REPR[key] = _cached(json.dumps(coverage, sort_keys=True))
    return cal
