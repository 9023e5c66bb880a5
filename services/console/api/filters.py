"""Template filters: times as people read them (UTC, and how long ago), and API words without underscores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.events import utcnow
from services.console.domain.clocks import span


def _t(value: Any) -> datetime | None:
    if not value:
        return None
    t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def when(value: Any) -> str:
    t = _t(value)
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if t else "—"


def short(value: Any) -> str:
    t = _t(value)
    return f"{t.astimezone(UTC):%d %b %H:%M}" if t else "—"


def ago(value: Any) -> str:
    t = _t(value)
    return span((utcnow() - t).total_seconds()) if t else "—"


def iso(value: Any) -> str:
    t = _t(value)
    return t.isoformat() if t else ""


def words(value: Any) -> str:
    return str(value).replace("_", " ") if value is not None else ""


def duration(seconds: Any) -> str:
    return span(float(seconds)) if isinstance(seconds, int | float) else "—"


def pct(value: Any) -> str:
    return f"{value:.2f} %" if isinstance(value, int | float) else "—"


FILTERS = {"when": when, "short": short, "ago": ago, "iso": iso, "words": words, "duration": duration, "pct": pct}
