"""Reporting's pure rules: periods and the arithmetic of figures (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.reporting.domain import (
    Figures,
    InvalidPeriod,
    Period,
    calendar_month,
    compliance,
    mean_seconds,
    parse_instant,
    resolve_period,
    summarise,
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


def test_summarise_lists_every_priority_and_nulls_unmeasured_means():
    figures = Figures(
        incidents=1,
        by_priority={"P2": 1},
        ack_total_s=0.0,
        ack_count=0,
        resolve_total_s=0.0,
        resolve_count=0,
        response_met=0,
        response_breached=1,
        resolution_met=0,
        resolution_breached=0,
        changes_approved=2,
        changes_rejected=0,
        ledger_events=7,
    )
    report = summarise(figures)
    assert report["by_priority"] == {"P1": 0, "P2": 1, "P3": 0, "P4": 0, "P5": 0}
    assert report["mtta_seconds"] is None and report["mttr_seconds"] is None
    assert report["response_sla"] == {"met": 0, "breached": 1, "compliance_pct": 0.0}
    assert report["resolution_sla"]["compliance_pct"] is None
    assert report["changes"] == {"approved": 2, "rejected": 0}
