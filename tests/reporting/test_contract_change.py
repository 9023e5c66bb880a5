"""A month that spans a contract change, every figure worked out by hand: each incident and each day is judged by
the contract version in force then (docs/metrics.md, "Contracts that change").

Tenant "nova", November 2025 (30 days = 43,200 min; 15 Nov is a Saturday):
- version 1, **Standard**, since always: 24x7 (UTC); every priority 1 h to respond, 8 h to resolve; availability
  target 99.5 %, downtime P1 only; credits 5 % of a 1,000 EUR fee per started 0.1 % below target, cap 50 %;
  SLA compliance target 90 %.
- version 2, **Premium**, from 15 Nov (midnight UTC, its coverage zone): business hours Mon-Fri 09:00-17:00 UTC;
  P1 15 min / 4 h, the rest 1 h / 8 h; availability target 99.9 %, downtime P1 and P2; credits 10 % of a
  2,000 EUR fee per started 0.1 %, cap 50 %; compliance target 95 %; its own priority matrix.
So 1-15 Nov (14 days, 20,160 min) is Standard's and 15 Nov-1 Dec (16 days, 23,040 min) Premium's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from libs.config import Provider, Tenant
from services.reporting.api import html
from services.reporting.domain.contracts import summary
from services.reporting.domain.period import Period
from services.reporting.domain.report import LedgerSlice, build
from services.reporting.domain.stories import Event

NOVEMBER = Period(datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC))
TARGETS = {p: {"respond": "1h", "resolve": "8h"} for p in ("P1", "P2", "P3", "P4", "P5")}
STANDARD = {
    "tier": "Standard",
    "coverage": {"hours": "24x7", "timezone": "UTC"},
    "sla": TARGETS,
    "sla_compliance_target_pct": 90,
    "availability": {"target_pct": 99.5, "credits": {"monthly_fee": 1000, "currency": "EUR"}},
}
PREMIUM = {
    "effective_from": "2025-11-15",
    "tier": "Premium",
    "coverage": {"hours": "business", "timezone": "UTC", "start": "09:00", "end": "17:00"},
    "sla": TARGETS | {"P1": {"respond": "15m", "resolve": "4h"}},
    "sla_compliance_target_pct": 95,
    "availability": {"target_pct": 99.9, "downtime_priorities": ["P1", "P2"],
                     "credits": {"monthly_fee": 2000, "currency": "EUR", "percent_per_step": 10}},
    "priority_matrix": {i: {u: "P1" for u in ("high", "medium", "low")} for i in ("high", "medium", "low")},
}  # fmt: skip
TENANT = Tenant.model_validate(
    {
        "id": "nova",
        "name": "Nova Freight",
        "code": "NOVA",
        "contract": [STANDARD, PREMIUM],
        "services": [
            {"id": "core", "name": "Core systems", "category": "infrastructure", "criticality": "critical"},
            {"id": "mail", "name": "Mail", "category": "cloud", "criticality": "high"},
        ],
    }
)
V1 = TENANT.contract_versions[0].coverage.model_dump(mode="json")
V2 = TENANT.contract_versions[1].coverage.model_dump(mode="json")


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 11, day, hour, minute, tzinfo=UTC)


class Story:
    """One incident's events as triage and escalation publish them; clocks run to the version it opened under."""

    def __init__(self, iid: str, priority: str, ci: str, opened: datetime, *, kind: str = "incident") -> None:
        self.ref, self.opened, self.priority = {"incident_id": iid, "number": f"NOVA-{iid}"}, opened, priority
        self.events: list[tuple[str, datetime, dict[str, Any]]] = []
        self.add("incident.opened", opened, title=iid, priority=priority, impact="high", urgency="high",
                 category=TENANT.ci_index[ci].category, ci=ci, tier=1, dedup_key=iid, source="generic",
                 opened_at=opened.isoformat(), detected_at=None, type=kind)  # fmt: skip

    def add(self, kind: str, when: datetime, **data: Any) -> Story:
        self.events.append((kind, when, {**self.ref, **data}))
        return self

    def clocks(self, coverage: dict[str, Any], respond_s: float, resolve_s: float) -> Story:
        clocks = [{"clock": clock, "priority": self.priority, "target_s": target, "started_at": self.opened.isoformat(),
                   "calendar": "", "coverage": coverage}
                  for clock, target in (("response", respond_s), ("resolution", resolve_s))]  # fmt: skip
        return self.add("sla.clocks_started", self.opened, clocks=clocks)

    def stop(self, clock: str, at: datetime, *, met: bool, coverage_s: float) -> Story:
        kind = "incident.acknowledged" if clock == "response" else "incident.resolved"
        self.add(kind, at, by="eve", at=at.isoformat(), reason="manual")
        return self.add("sla.clock_stopped", at, clock=clock, stopped_at=at.isoformat(), met=met,
                        coverage_s=coverage_s, elapsed_s=(at - self.opened).total_seconds(), paused_s=0.0)  # fmt: skip


def worked(s: Story, acked: datetime, ack_s: float, resolved: datetime, resolve_s: float, *, met: bool = True) -> Story:
    """Acknowledged at `acked` (`ack_s` of coverage; met unless `met` is False), resolved within target."""
    return s.stop("response", acked, met=met, coverage_s=ack_s).stop(
        "resolution", resolved, met=True, coverage_s=resolve_s
    )


def stories() -> list[Story]:
    standard = [
        # Under Standard (24x7): A, a P1 on core, down 10:00-11:00 (P1 is Standard's downtime).
        worked(Story("A", "P1", "core", t(5, 10)).clocks(V1, 3600, 28800), t(5, 10, 20), 1200, t(5, 11), 3600),
        # B, a P2: not downtime under Standard.
        worked(Story("B", "P2", "core", t(10, 12)).clocks(V1, 3600, 28800), t(10, 12, 30), 1800, t(10, 14), 7200),
        # C, a P2 opened Friday 23:00 under Standard, resolved Saturday 01:00 under Premium: its first hour is not
        # downtime (Standard's P1 only), its second is (Premium counts P2). Its clocks stay Standard's (24x7).
        worked(Story("C", "P2", "core", t(14, 23)).clocks(V1, 3600, 28800), t(14, 23, 30), 1800, t(15, 1), 7200),
    ]
    breach = {"clock": "response", "priority": "P1", "due_at": t(17, 9, 15).isoformat(),
              "breached_at": t(17, 9, 15).isoformat(), "late": False, "tier": 1}  # fmt: skip
    premium = [
        # Under Premium (business hours): D, a P1 opened Monday 08:00, before hours: its 15 minutes count from
        # 09:00, due 09:15, breached; acknowledged 09:30 (30 min of coverage); resolved 10:00, within 4 h. Down 2 h.
        worked(
            Story("D", "P1", "core", t(17, 8)).clocks(V2, 900, 14400).add("sla.breached", t(17, 9, 15), **breach),
            t(17, 9, 30),
            1800,
            t(17, 10),
            3600,
            met=False,
        ),
        # E, a P3 on mail on Thursday, within hours: not downtime.
        worked(Story("E", "P3", "mail", t(20, 10)).clocks(V2, 3600, 28800), t(20, 10, 10), 600, t(20, 10, 30), 1800),
        # F, a service request without clocks on Saturday 10:00-11:00: by Premium's calendar, no coverage time.
        Story("F", "P4", "mail", t(22, 10), kind="request").add(
            "incident.resolved", t(22, 11), by="eve", at=t(22, 11).isoformat(), reason="manual"
        ),
    ]
    return standard + premium


@pytest.fixture(scope="module")
def report() -> dict:
    events = sorted((e for s in stories() for e in s.events), key=lambda e: e[1])
    ledger = LedgerSlice([Event(kind, data, at) for kind, at, data in events], [], ledger_events=len(events))
    return build(TENANT, NOVEMBER, ledger)


def test_the_report_says_which_versions_it_covered(report):
    assert report["contract"]["summary"] == "Standard until 14 Nov, Premium from 15 Nov"
    assert report["contract"]["tier"] == "Premium"  # the terms in force at the month's end
    standard, premium = report["contracts"]
    assert (standard["version"], standard["from"], standard["to"]) == (1, NOVEMBER.start, t(15, 0))
    assert (premium["version"], premium["from"], premium["to"]) == (2, t(15, 0), NOVEMBER.end)
    assert (standard["coverage"], premium["coverage"]) == ("24x7", "09:00-17:00 mon,tue,wed,thu,fri UTC")
    assert premium["sla_targets"]["P1"] == {"respond_s": 900.0, "resolve_s": 14400.0}
    assert standard["priority_matrix"] is None and premium["priority_matrix"]["low"]["low"] == "P1"


def test_sla_compliance_per_version_against_its_own_target(report):
    standard, premium = report["contracts"]
    # Standard: A, B, C opened under it; every clock met: 100 % against 90 %.
    assert standard["incidents"] == 3 and standard["compliance_met"] is True
    assert standard["response_sla"] == {"met": 3, "breached": 0, "compliance_pct": 100.0}
    # Premium: D, E, F opened under it (F ran no clock); response D breached, E met: 50 % against 95 %.
    assert premium["incidents"] == 3 and premium["compliance_met"] is False
    assert premium["response_sla"] == {"met": 1, "breached": 1, "compliance_pct": 50.0}
    assert premium["resolution_sla"] == {"met": 2, "breached": 0, "compliance_pct": 100.0}
    # The month: 4 of 5 responses met, every resolution; its target the mean of what each incident was promised:
    # (3 x 90 + 3 x 95) / 6 = 92.5.
    assert (report["response_sla"]["compliance_pct"], report["resolution_sla"]["compliance_pct"]) == (80.0, 100.0)
    assert report["sla_compliance_target_pct"] == 92.5


def test_coverage_hours_by_the_version_each_incident_opened_under(report):
    # A 1 h, B 2 h, C 2 h (its clock's 24x7, though it ended under Premium), D 09:00-10:00 1 h, E 30 min; F has no
    # clock and opened on a Saturday under Premium's business hours: 0 (Standard's 24x7 would have said 1 h).
    assert report["mttr_coverage_seconds"] == (3600 + 7200 + 7200 + 3600 + 1800 + 0) / 6 == 3900.0
    d = next(i for i in report["incident_list"] if i["number"] == "NOVA-D")
    assert d["counting_from"] == t(17, 9)  # opened 08:00, before Premium's hours


def test_availability_day_by_day_under_the_version_in_force(report):
    standard, premium = report["availability"]["by_contract"]
    core1 = next(s for s in standard["services"] if s["ci"] == "core")
    core2 = next(s for s in premium["services"] if s["ci"] == "core")
    # Standard's 20,160 min: A 60 min down (B and C's first hour are P2: not downtime under Standard).
    assert (core1["downtime_minutes"], core1["availability_pct"]) == (60.0, round(20_100 / 20_160 * 100, 4))
    assert (core1["availability_pct"], core1["target_pct"], core1["met"], core1["credit_pct"]) == (
        99.7024, 99.5, True, 0.0,
    )  # fmt: skip
    # Premium's 23,040 min: C 00:00-01:00 (P2 counts now) + D 08:00-10:00 = 180 min; 22,860 / 23,040 = 99.21875 %.
    # 0.6812 below 99.9 = 7 started steps of 0.1 % x 10 % = 70 %, capped at 50 %.
    assert (core2["downtime_minutes"], core2["availability_pct"], core2["target_pct"]) == (180.0, 99.2188, 99.9)
    assert (core2["met"], core2["credit_pct"]) == (False, 50.0)
    assert {s["ci"]: s["availability_pct"] for s in premium["services"]} == {"core": 99.2188, "mail": 100.0}


def test_the_month_adds_the_versions_up(report):
    core = next(s for s in report["availability"]["services"] if s["ci"] == "core")
    # 240 min down of 43,200: 99.4444 %; the target weighted by days in force: (99.5 x 14 + 99.9 x 16) / 30 =
    # 99.7133 %; missed, because Premium's part missed its own target (Standard's met its own).
    assert (core["downtime_minutes"], core["availability_pct"]) == (240.0, 99.4444)
    assert (core["target_pct"], core["met"]) == (99.7133, False)
    # Its credit share: 0 % for 14 days and 50 % for 16 days of the month: 26.6667 %.
    assert core["credit_pct"] == 26.6667
    # Standard earns 0 % of its 1,000 EUR for 14/30 of the month (466.67 EUR of fee); Premium 50 % of its 2,000 EUR
    # for 16/30 (1,066.67 EUR of fee): 533.33 EUR, which is 34.7826 % of the 1,533.33 EUR the month's fee came to.
    standard, premium = report["availability"]["by_contract"]
    eur = {"currency": "EUR"}
    assert standard["service_credit"] == {"pct_of_fee": 0.0, "amount": 0.0, "monthly_fee": 466.67} | eur
    assert premium["service_credit"] == {"pct_of_fee": 50.0, "amount": 533.33, "monthly_fee": 1066.67} | eur
    assert report["availability"]["service_credit"] == {
        "pct_of_fee": 34.7826, "amount": 533.33, "currency": "EUR", "monthly_fee": 1533.33,
    }  # fmt: skip


def test_the_printable_report_names_the_versions(report):
    page = html.render(report, [], provider=Provider(name="Test MSP"), month="November 2025")
    assert "contract Standard until 14 Nov, Premium from 15 Nov" in page
    assert "<td>Standard</td>" in page and "<td>Premium</td>" in page  # the versions' table


@pytest.mark.parametrize(
    ("versions", "words"),
    [
        ([STANDARD], "Standard"),
        ([STANDARD, PREMIUM | {"effective_from": "2025-11-15T12:30"}],
         "Standard until 15 Nov 12:30, Premium from 15 Nov 12:30"),
        ([STANDARD, PREMIUM | {"effective_from": "2025-11-10"}, PREMIUM | {"tier": "Gold",
                                                                          "effective_from": "2025-11-20"}],
         "Standard until 9 Nov, Premium from 10 Nov until 19 Nov, Gold from 20 Nov"),
        ([STANDARD, PREMIUM | {"effective_from": "2025-12-01"}], "Standard"),  # from next month: not this one's
    ],
    ids=["one", "at-noon", "three", "next-month"],
)  # fmt: skip
def test_the_versions_in_words(versions, words):
    tenant = Tenant.model_validate(TENANT.model_dump() | {"contract": versions})
    assert summary(tenant.contracts_between(NOVEMBER.start, NOVEMBER.end), NOVEMBER) == words
