"""Coverage-time arithmetic, table-driven: 24x7, business hours across weekends, holidays, both DST changes,
pauses spanning a night, incidents opened outside coverage."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from libs.calendar import Calendar, NoCoverage, calendar_for
from libs.config import Coverage

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

ALWAYS = Coverage(hours="24x7", timezone="Europe/London")
UK_8X5 = Coverage(hours="business", timezone="Europe/London", holidays_country="GB", holidays_subdivision="ENG")
US_12X5 = Coverage(hours="business", timezone="America/New_York", start="07:00", end="19:00", holidays_country="US")
EXTRA = Coverage(hours="business", timezone="Europe/London", extra_holidays=["2025-03-05"])
# Three night hours every day, so the DST transitions (01:00 London time) fall inside a window.
NIGHTS = Coverage(hours="business", timezone="Europe/London", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                  start="01:00", end="04:00")  # fmt: skip


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


H = 3600


@pytest.mark.parametrize(
    ("case", "coverage", "start", "seconds", "due"),
    [
        ("24x7 is wall-clock", ALWAYS, local(UTC, 2025, 3, 4, 10), 4 * H, local(UTC, 2025, 3, 4, 14)),
        ("24x7 counts UTC time across DST", ALWAYS, local(UTC, 2025, 3, 30, 0, 30), 2 * H,
         local(UTC, 2025, 3, 30, 2, 30)),
        ("8x5 within a day", UK_8X5, local(LONDON, 2025, 3, 4, 10), 2 * H, local(LONDON, 2025, 3, 4, 12)),
        ("8x5 rolls to the next morning", UK_8X5, local(LONDON, 2025, 3, 4, 16), 2 * H, local(LONDON, 2025, 3, 5, 10)),
        ("8x5 across a weekend", UK_8X5, local(LONDON, 2025, 3, 7, 16), 2 * H, local(LONDON, 2025, 3, 10, 10)),
        ("8x5 multi-day target", UK_8X5, local(LONDON, 2025, 3, 6, 9), 16 * H, local(LONDON, 2025, 3, 7, 17)),
        ("holiday: Easter, Good Friday to Easter Monday skipped", UK_8X5, local(LONDON, 2025, 4, 17, 16, 30), H,
         local(LONDON, 2025, 4, 22, 9, 30)),
        ("holiday: US Thanksgiving skipped", US_12X5, local(NEW_YORK, 2025, 11, 26, 18, 30), H,
         local(NEW_YORK, 2025, 11, 28, 7, 30)),
        ("extra holiday date skipped", EXTRA, local(LONDON, 2025, 3, 4, 16), 2 * H, local(LONDON, 2025, 3, 6, 10)),
        ("DST spring forward over the weekend", UK_8X5, local(LONDON, 2025, 3, 28, 16), 2 * H,
         local(UTC, 2025, 3, 31, 9)),  # 10:00 BST, not 10:00 UTC
        ("DST fall back over the weekend", UK_8X5, local(LONDON, 2025, 10, 24, 16), 2 * H,
         local(UTC, 2025, 10, 27, 10)),  # 10:00 GMT
        ("DST spring forward inside a window: 01:00-04:00 lasts 2 h", NIGHTS, local(UTC, 2025, 3, 30, 1), 2.5 * H,
         local(UTC, 2025, 3, 31, 0, 30)),  # the next night is BST: 01:00 local is 00:00 UTC
        ("DST fall back inside a window: 01:00-04:00 lasts 4 h", NIGHTS, local(UTC, 2025, 10, 26, 0), 3.5 * H,
         local(UTC, 2025, 10, 26, 3, 30)),
        ("opened on a Saturday: counts from Monday 09:00", UK_8X5, local(LONDON, 2025, 3, 8, 12), 30 * 60,
         local(LONDON, 2025, 3, 10, 9, 30)),
        ("opened before hours: counts from 09:00", UK_8X5, local(LONDON, 2025, 3, 4, 6), 30 * 60,
         local(LONDON, 2025, 3, 4, 9, 30)),
        ("opened after hours: counts from tomorrow", US_12X5, local(NEW_YORK, 2025, 3, 4, 22), 30 * 60,
         local(NEW_YORK, 2025, 3, 5, 7, 30)),
        ("zero target outside coverage: the next window's start", UK_8X5, local(LONDON, 2025, 3, 8, 12), 0,
         local(LONDON, 2025, 3, 10, 9)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_deadline(case, coverage, start, seconds, due):
    cal = Calendar(coverage)
    assert cal.add(start, seconds) == due
    # The inverse: exactly the target's coverage time lies between start and deadline.
    assert cal.between(start, due) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("case", "coverage", "a", "b", "seconds"),
    [
        ("24x7", ALWAYS, local(UTC, 2025, 3, 4, 10), local(UTC, 2025, 3, 5, 10), 24 * H),
        ("a whole week of 8x5", UK_8X5, local(LONDON, 2025, 3, 3), local(LONDON, 2025, 3, 10), 40 * H),
        ("a weekend counts nothing", UK_8X5, local(LONDON, 2025, 3, 8), local(LONDON, 2025, 3, 10), 0),
        ("Easter week loses two days", UK_8X5, local(LONDON, 2025, 4, 14), local(LONDON, 2025, 4, 26), 64 * H),
        ("spring-forward night", NIGHTS, local(LONDON, 2025, 3, 30), local(LONDON, 2025, 3, 30, 12), 2 * H),
        ("fall-back night", NIGHTS, local(LONDON, 2025, 10, 26), local(LONDON, 2025, 10, 26, 12), 4 * H),
        ("reversed interval", UK_8X5, local(LONDON, 2025, 3, 4, 12), local(LONDON, 2025, 3, 4, 10), 0),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_coverage_between(case, coverage, a, b, seconds):
    assert Calendar(coverage).between(a, b) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("case", "coverage", "paused", "resumed", "moved_s", "deadline"),
    [
        ("8x5 pause over a night: only 16:00-17:00 and 09:00-10:00 count", UK_8X5, local(LONDON, 2025, 3, 4, 16),
         local(LONDON, 2025, 3, 5, 10), 2 * H, local(LONDON, 2025, 3, 5, 11)),
        ("8x5 pause from Friday evening to Monday 08:00 moves nothing", UK_8X5, local(LONDON, 2025, 3, 7, 18),
         local(LONDON, 2025, 3, 10, 8), 0, local(LONDON, 2025, 3, 4, 17)),
        ("24x7 pause over a night moves by the wall-clock time", ALWAYS, local(UTC, 2025, 3, 4, 20),
         local(UTC, 2025, 3, 5, 8), 12 * H, local(UTC, 2025, 3, 5, 5)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_pause_moves_the_deadline_by_coverage_time_paused(case, coverage, paused, resumed, moved_s, deadline):
    cal = Calendar(coverage)
    started, target = local(LONDON, 2025, 3, 4, 9), 8 * H  # unpaused deadline: Tuesday 17:00 London
    assert cal.between(paused, resumed) == pytest.approx(moved_s)
    # The deadline is where target + paused coverage time falls after the start.
    assert cal.add(started, target + cal.between(paused, resumed)) == deadline


def test_label_and_spec_round_trip():
    cal = calendar_for(US_12X5)
    assert cal.label == "07:00-19:00 mon,tue,wed,thu,fri America/New_York holidays US"
    assert calendar_for(cal.spec()) is cal  # cached: the holiday table is built once
    assert Calendar(ALWAYS).label == "24x7"
    assert Calendar(EXTRA).label.endswith("+1 dates")


def test_is_covered():
    cal = Calendar(UK_8X5)
    assert cal.is_covered(local(LONDON, 2025, 3, 4, 9)) and not cal.is_covered(local(LONDON, 2025, 3, 4, 17))
    assert not cal.is_covered(local(LONDON, 2025, 12, 25, 12))


def test_a_calendar_without_covered_days_refuses_rather_than_loops():
    with pytest.raises(NoCoverage):
        Calendar(Coverage(hours="business", days=[])).add(local(UTC, 2025, 1, 1), 60)
