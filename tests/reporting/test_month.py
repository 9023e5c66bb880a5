"""Every figure of a known month (tests/reporting/month.py), checked against answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.reporting.domain.period import Period
from services.reporting.domain.report import LedgerSlice, build
from services.reporting.domain.stories import Event
from tests.reporting import month

OCTOBER = Period(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def report_of(recorded: list) -> dict:
    events = [Event(kind, data, at) for kind, at, data in recorded]
    incident_events = [e for e in events if "incident_id" in e.data and not e.type.startswith("change.")]
    change_events = [e for e in events if e.type.startswith("change.")]
    return build(month.TENANT, OCTOBER, LedgerSlice(incident_events, change_events, ledger_events=len(events)))


@pytest.fixture(scope="module")
def report() -> dict:
    return report_of(month.all_events())


def test_a_ledger_of_one_clock_started_per_clock_reports_the_same_month():
    """Ledgers recorded before issue 17 hold one sla.clock_started per clock, not one sla.clocks_started per
    incident: every figure is the same; only the count of ledger rows differs (A-D had clocks: 4 rows more)."""
    old, new = report_of(month.all_events(per_clock=True)), report_of(month.all_events())
    assert old.pop("ledger_events") == new.pop("ledger_events") + 4
    assert old == new


def test_volume(report):
    # A, B, C, D, E opened in October; F (30 Sep) and G (1 Nov) did not.
    assert report["incidents"] == 5
    assert report["by_type"] == {"incident": 4, "request": 1}
    assert report["by_priority"] == {"P1": 2, "P2": 1, "P3": 1, "P4": 1, "P5": 0}
    assert report["by_category"] == {"infrastructure": 2, "network": 1, "security": 1, "cloud": 0, "end-user": 1,
                                     "data": 0, "compliance": 0}  # fmt: skip
    assert report["by_tier"] == {"1": 5}
    assert report["by_source"] == {"alertmanager": 2, "generic": 1, "manual": 2}


def test_means(report):
    # MTTA: A 5 min, B 10 min, C 10 min, D 2 h 20 min (E never acknowledged): 9900 / 4.
    assert report["mtta_seconds"] == 2475.0
    # MTTR wall clock: A 2 h, B Fri 15:00 -> Tue 09:00 = 90 h, C 30 min, D 3 h (to its final resolve), E 1 h.
    assert report["mttr_seconds"] == (7200 + 324_000 + 1800 + 10_800 + 3600) / 5
    # In coverage hours (08:00-16:00 UTC in BST, 09:00-17:00 UTC after 25 Oct; 12 Oct a holiday):
    # A 2 h; B Fri 15-16 + Tue 08-09 = 2 h; C 30 min; D opened 08:00 before hours, 09-11 = 2 h; E 1 h.
    assert report["mttr_coverage_seconds"] == (7200 + 7200 + 1800 + 7200 + 3600) / 5
    # MTTD: A 2 min, D 10 min, E 1 h (B and C carry no source start time).
    assert report["mttd_seconds"] == (120 + 600 + 3600) / 3


def test_sla_compliance_and_breaches(report):
    # Response: A, B, C met; D breached; E (a request) ran no clock.
    assert {k: report["response_sla"][k] for k in ("met", "breached", "compliance_pct")} == {
        "met": 3, "breached": 1, "compliance_pct": 75.0,
    }  # fmt: skip
    assert report["response_sla"]["by_priority"] == {
        "P1": {"met": 1, "breached": 1, "compliance_pct": 50.0},
        "P2": {"met": 1, "breached": 0, "compliance_pct": 100.0},
        "P3": {"met": 1, "breached": 0, "compliance_pct": 100.0},
        "P4": {"met": 0, "breached": 0, "compliance_pct": None},
        "P5": {"met": 0, "breached": 0, "compliance_pct": None},
    }
    assert (report["resolution_sla"]["met"], report["resolution_sla"]["breached"]) == (4, 0)
    assert report["resolution_sla"]["compliance_pct"] == 100.0
    assert [(b["number"], b["clock"], b["breached_at"]) for b in report["breaches"]] == [
        ("OCTO-D", "response", datetime(2026, 10, 26, 10, tzinfo=UTC))
    ]


def test_rates_and_paused_time(report):
    assert report["escalation_rate_pct"] == 20.0  # B of 5
    # Resolved at Tier 1 with no escalation or reassignment: A, C, D of the 5 resolved (B escalated, E reassigned).
    assert report["first_contact_resolution_pct"] == 60.0
    assert report["reopen_rate_pct"] == 20.0  # D
    # B's resolution clock paused pending customer: Fri 15:30-16:00 and Tue 08:00-08:30 of coverage time.
    assert report["paused_seconds"] == {"pending_customer": 3600.0}


def test_availability_with_a_change_window_excluded_and_the_credit(report):
    by_ci = {s["ci"]: s for s in report["availability"]["services"]}
    erp = by_ci["erp-db"]
    # F 00:00-01:00 on 1 Oct (60 min); A detected 09:58, resolved 12:00 (122 min) less CHG-1's window 11:00-11:30
    # (30 min) = 92 min; D detected 07:50, finally resolved 11:00 (190 min). 342 min of 44,640.
    assert (erp["downtime_minutes"], erp["excluded_change_minutes"]) == (342.0, 30.0)
    assert erp["availability_pct"] == round((44_640 - 342) / 44_640 * 100, 4) == 99.2339
    assert (erp["target_pct"], erp["met"]) == (99.9, False)
    # 0.6661 % below target = 7 started steps of 0.1 % x 5 % of the fee = 35 %.
    assert erp["credit_pct"] == 35.0
    assert {ci: (s["availability_pct"], s["credit_pct"]) for ci, s in by_ci.items() if ci != "erp-db"} == {
        "wifi": (100.0, 0.0), "edr": (100.0, 0.0), "helpdesk": (100.0, 0.0),
    }  # fmt: skip
    assert report["availability"]["service_credit"] == {
        "pct_of_fee": 35.0, "amount": 3500.0, "currency": "EUR", "monthly_fee": 10000.0,
    }  # fmt: skip


def test_changes(report):
    ch = report["changes"]
    # Implemented in October: CHG-1 (completed), CHG-2 (completed, but caused P1 incident D), CHG-5 (failed).
    assert ch["implemented"] == 3
    assert ch["by_outcome"] == {"successful": 1, "failed": 2, "rejected": 1, "cancelled": 1}
    assert ch["by_type"] == {"emergency": 1, "normal": 3, "standard": 1}
    assert (ch["approved"], ch["rejected"], ch["unmanaged"]) == (2, 1, 2)
    assert ch["success_rate_pct"] == 33.33
    assert ch["emergency_share_pct"] == 20.0
    assert ch["caused_incidents"] == [{"change": "CHG-2", "incidents": ["OCTO-D"]}]  # numbers, not ids


def test_service_families(report):
    assert report["families"] == {
        "infrastructure": {"incidents": 2, "uptime_pct": 99.2339, "mttr_seconds": 9000.0},
        "network": {"incidents": 1, "availability_pct": 100.0},
        "security": {"incidents": 1, "mttd_seconds": 3600.0, "mttr_seconds": 3600.0},
        "end-user": {"incidents": 1, "first_contact_resolution_pct": 100.0, "mtta_seconds": 600.0},
    }


def test_weekly_volume(report):
    weeks = [(w["from"].day, [w[p] for p in ("P1", "P2", "P3", "P4", "P5")]) for w in report["weekly_volume"]]
    assert weeks == [(1, [1, 0, 0, 0, 0]), (8, [0, 1, 1, 0, 0]), (15, [0, 0, 0, 1, 0]), (22, [1, 0, 0, 0, 0]),
                     (29, [0, 0, 0, 0, 0])]  # fmt: skip


def test_a_month_still_running_is_measured_to_now():
    """Asked on 26 Oct at 09:50 UTC, while D (detected 07:50) is still down: availability is month to date, and
    D counts 2 h down, not down until the month's end."""
    events = [Event(kind, data, at) for kind, at, data in month.all_events()]
    now = month.t(26, 9, 50)
    known = [e for e in events if e.at <= now]
    incident_events = [e for e in known if "incident_id" in e.data and not e.type.startswith("change.")]
    change_events = [e for e in known if e.type.startswith("change.")]
    report = build(month.TENANT, OCTOBER, LedgerSlice(incident_events, change_events, len(known)), as_of=now)
    avail = report["availability"]
    assert (avail["measured_to"], avail["complete"]) == (now, False)
    erp = next(s for s in avail["services"] if s["ci"] == "erp-db")
    # F 60 min + A 92 min + D 07:50-09:50 120 min, of 25 days 9 h 50 min = 36,590 minutes so far.
    assert erp["downtime_minutes"] == 272.0
    assert erp["availability_pct"] == round((36_590 - 272) / 36_590 * 100, 4)

    # November asked in October has not begun: no availability, no credit, nothing "missed".
    november = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    report = build(month.TENANT, november, LedgerSlice(incident_events, change_events, len(known)), as_of=now)
    assert {
        (s["availability_pct"], s["met"], s.get("credit_pct", 0.0)) for s in report["availability"]["services"]
    } == {(None, None, 0.0)}
    assert report["availability"]["service_credit"]["amount"] == 0.0
