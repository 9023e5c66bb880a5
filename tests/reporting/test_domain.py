"""Reporting's pure rules: periods and the arithmetic of figures (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest

from services.reporting.api import charts
from services.reporting.api.spreadsheet import to_csv
from services.reporting.domain.availability import credit_pct, merge, minus
from services.reporting.domain.explain import human
from services.reporting.domain.figures import compliance, mean_seconds
from services.reporting.domain.period import (
    InvalidPeriod,
    Period,
    calendar_month,
    parse_instant,
    previous_periods,
    resolve_period,
)

NOW = datetime(2024, 3, 17, 12, 30, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_calendar_month_rolls_over_the_year():
    assert calendar_month(NOW) == Period(utc(2024, 3, 1), utc(2024, 4, 1))
    assert calendar_month(utc(2024, 12, 31, 23, 59)) == Period(utc(2024, 12, 1), utc(2025, 1, 1))


def test_calendar_month_is_the_utc_month():
    # 00:30 on 1 April in UTC+2 is still 31 March in UTC.
    local = datetime(2024, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert calendar_month(local) == Period(utc(2024, 3, 1), utc(2024, 4, 1))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01", utc(2024, 3, 1)),
        ("2024-03-01T10:00:00", utc(2024, 3, 1, 10)),
        ("2024-03-01T10:00:00Z", utc(2024, 3, 1, 10)),
        ("2024-03-01T12:00:00+02:00", utc(2024, 3, 1, 10)),
        ("2024-03-01T12:00:00 02:00", utc(2024, 3, 1, 10)),  # '+' decoded to a space
    ],
)
def test_parse_instant(raw, expected):
    assert parse_instant(raw) == expected


def test_period_defaults_to_the_current_month():
    assert resolve_period(None, None, now=NOW) == Period(utc(2024, 3, 1), utc(2024, 4, 1))
    assert resolve_period("2024-01-01", "", now=NOW) == Period(utc(2024, 1, 1), utc(2024, 4, 1))


def test_period_errors_name_their_fields():
    with pytest.raises(InvalidPeriod) as exc:
        resolve_period("yesterday", "2024-13-01", now=NOW)
    assert [d["field"] for d in exc.value.details] == ["from", "to"]
    with pytest.raises(InvalidPeriod) as exc:
        resolve_period("2024-03-02", "2024-03-01", now=NOW)
    assert exc.value.details == [{"field": "to", "message": "must be after from"}]
    with pytest.raises(InvalidPeriod):
        resolve_period("2024-03-01", "2024-03-01T00:00:00Z", now=NOW)  # empty period


def test_mean_seconds():
    assert mean_seconds(0.0, 0) is None
    assert mean_seconds(0.0, 2) == 0.0
    assert mean_seconds(660.0, 2) == 330.0
    assert mean_seconds(1.0, 3) == 0.333


def test_compliance():
    assert compliance(0, 0) == {"met": 0, "breached": 0, "compliance_pct": None}
    assert compliance(1, 1)["compliance_pct"] == 50.0
    assert compliance(2, 1)["compliance_pct"] == 66.67
    assert compliance(0, 3)["compliance_pct"] == 0.0
    assert compliance(5, 0)["compliance_pct"] == 100.0


def test_previous_periods_are_months_for_a_month_else_equal_lengths():
    march = Period(utc(2024, 3, 1), utc(2024, 4, 1))
    assert [(p.start.month, p.end.month) for p in previous_periods(march, 3)] == [(12, 1), (1, 2), (2, 3)]
    week = Period(utc(2024, 3, 4), utc(2024, 3, 11))
    assert previous_periods(week, 2) == [
        Period(utc(2024, 2, 19), utc(2024, 2, 26)),
        Period(utc(2024, 2, 26), utc(2024, 3, 4)),
    ]
    assert previous_periods(march, 0) == []


def test_csv_flattens_every_figure():
    text = to_csv(
        {"incidents": 2, "sla": {"met": 1, "pct": None}, "breaches": [{"number": "A-1"}], "at": utc(2024, 3, 1)}
    )
    assert text.splitlines() == [
        "figure,value",
        "incidents,2",
        "sla.met,1",
        "sla.pct,",
        "breaches.0.number,A-1",
        "at,2024-03-01T00:00:00+00:00",
    ]


def test_intervals_merge_and_subtract():
    h = [utc(2024, 3, 1, n) for n in range(10)]
    assert merge([(h[3], h[5]), (h[1], h[2]), (h[4], h[6]), (h[7], h[7])]) == [(h[1], h[2]), (h[3], h[6])]
    assert minus([(h[1], h[6])], [(h[2], h[3]), (h[5], h[8])]) == [(h[1], h[2]), (h[3], h[5])]
    assert minus([(h[1], h[2])], [(h[0], h[9])]) == []


@pytest.mark.parametrize(
    ("actual", "credit"),
    [(99.95, 0.0), (99.9, 0.0), (99.85, 5.0), (99.8, 5.0), (99.79, 10.0), (99.2339, 35.0), (90.0, 50.0)],
)
def test_service_credit_per_started_step_capped(actual, credit):
    assert credit_pct(actual, 99.9, per_step=5, step=0.1, cap=50) == credit


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (45, "45 s"), (60, "1 min"), (7800, "2 h 10 min"), (3600, "1 h"), (90061, "1 d 1 h"), (0.4, "0 s")],
)
def test_human_durations(seconds, text):
    assert human(seconds) == text


def test_charts_are_well_formed_svg():
    svgs = [
        charts.stacked_bars([("01 Oct", {"P1": 1, "P3": 2}), ("08 Oct", {})], "volume"),
        charts.bars_against_target([("P1", 50.0), ("P2", None), ("P3", 100.0)], 95, "compliance"),
        charts.bars_against_target([("erp-db", 99.2339)], 99.9, "availability", floor=99),
        charts.line([("Aug", None), ("Sep", 2.5), ("Oct", 1.0)], "mttr", " h"),
    ]
    for svg in svgs:
        root = ElementTree.fromstring(svg)
        assert root.tag.endswith("svg") and root.find("{http://www.w3.org/2000/svg}title") is not None
    assert svgs[0].count("<rect") == 2 + 5  # two stacked segments and the legend
    assert "target 95.00 %" in svgs[1] and "n/a" in svgs[1]


@pytest.mark.parametrize(
    ("low", "high", "integer", "marks"),
    [
        (0, 10, True, [0, 2, 4, 6, 8, 10]),  # not 0, 2, 5, 8, 10
        (0, 1, True, [0, 1]),  # never half an incident
        (0, 3, True, [0, 1, 2, 3]),
        (0, 7, True, [0, 2, 4, 6, 8]),
        (0, 0.9, False, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),  # hours: not 0.3, 0.6, 0.9
        (0, 2.3, False, [0, 0.5, 1, 1.5, 2, 2.5]),
        (0, 100, False, [0, 20, 40, 60, 80, 100]),
        (90, 100, False, [90, 92, 94, 96, 98, 100]),
        (99, 100, False, [99, 99.2, 99.4, 99.6, 99.8, 100]),
        (0, 40, True, [0, 10, 20, 30, 40]),
        (0, 23, True, [0, 5, 10, 15, 20, 25]),
    ],
)
def test_axis_ticks_are_round_numbers(low, high, integer, marks):
    assert charts.ticks(low, high, integer=integer) == marks


@pytest.mark.parametrize(
    ("value", "text"), [(None, "-"), (100.0, "100 %"), (98.7864, "98.78 %"), (99.996, "99.99 %"), (0.0, "0.00 %")]
)
def test_percentages_are_written_one_way(value, text):
    assert charts.pct(value) == text


def _texts(svg: str) -> list[tuple[float, str]]:
    ns = "{http://www.w3.org/2000/svg}"
    root = ElementTree.fromstring(svg)
    return [(float(t.get("y") or 0), "".join(t.itertext())) for t in root.iter(f"{ns}text")]


def test_a_zero_bar_shows_and_the_target_label_stays_clear_of_the_bars():
    svg = charts.bars_against_target([("P1", 0.0), ("P2", 100.0), ("P3", 99.9)], 99.9, "compliance")
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in ElementTree.fromstring(svg).iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    assert [float(r.get("height")) >= charts.MIN_BAR for r in bars] == [True, True, True]  # 0 % is a thin mark
    plot_bottom = charts.H - charts.PAD_B
    labels = {text: y for y, text in _texts(svg)}
    assert labels["100 %"] < plot_bottom and labels["0.00 %"] < plot_bottom and labels["99.90 %"] < plot_bottom
    assert labels["target 99.90 %"] > plot_bottom + 16  # in the legend row, under the axis labels


def test_long_category_labels_wrap_onto_two_lines():
    svg = charts.bars_against_target([("Microsoft 365 tenant", 100.0)] * 6, 99.9, "availability")
    assert svg.count("<tspan") == 12 and ">Microsoft 365</tspan>" in svg
