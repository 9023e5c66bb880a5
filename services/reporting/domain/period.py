"""The period a report covers: calendar months (UTC), the bounds a query names, and the periods before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive


class InvalidPeriod(ValueError):
    def __init__(self, details: list[dict[str, str]]) -> None:
        self.details = details
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))


def calendar_month(now: datetime) -> Period:
    """The UTC calendar month containing `now`."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Period(start, end)


def month_period(year: int, month: int) -> Period:
    start = datetime(year, month, 1, tzinfo=UTC)
    return calendar_month(start)


def previous_periods(period: Period, n: int) -> list[Period]:
    """The n periods before this one, oldest first: calendar months for a month, else equal lengths."""
    out, current = [], period
    for _ in range(n):
        if current == calendar_month(current.start):
            prev_end = current.start
            current = calendar_month(prev_end - timedelta(days=1))
        else:
            length = current.end - current.start
            current = Period(current.start - length, current.start)
        out.append(current)
    return out[::-1]


def parse_instant(raw: str) -> datetime:
    """An ISO 8601 date (midnight) or datetime; without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        # An unencoded '+' in a query string arrives as a space: '...T10:00:00 02:00'.
        value = datetime.fromisoformat(raw.replace(" ", "+"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_period(raw_from: str | None, raw_to: str | None, *, now: datetime) -> Period:
    """The period a report query names; a missing bound is that bound of the current UTC month."""
    default = calendar_month(now)
    bounds: dict[str, datetime] = {}
    errors: list[dict[str, str]] = []
    for field, raw, fallback in (("from", raw_from, default.start), ("to", raw_to, default.end)):
        if not raw:
            bounds[field] = fallback
            continue
        try:
            bounds[field] = parse_instant(raw)
        except ValueError:
            errors.append({"field": field, "message": "an ISO 8601 date or datetime, e.g. 2024-03-01"})
    if not errors and bounds["from"] >= bounds["to"]:
        errors.append({"field": "to", "message": "must be after from"})
    if errors:
        raise InvalidPeriod(errors)
    return Period(bounds["from"], bounds["to"])
