"""A known month for tenant "octo" (October 2026), built so every figure can be worked out by hand.

Contract: business hours Mon-Fri 09:00-17:00 Europe/London (BST until Sun 25 Oct 01:00 UTC, so 08:00-16:00
UTC before and 09:00-17:00 UTC after), 12 Oct an extra holiday; availability target 99.9 % with credits of
5 % of a 10,000 EUR fee per started 0.1 % below target, capped at 50 %. The worked answers are in
test_month.py next to each assertion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from libs.config import Tenant

TENANT = Tenant.model_validate(
    {
        "id": "octo",
        "name": "Octo Logistics",
        "code": "OCTO",
        "contract": {
            "tier": "standard",
            "coverage": {"hours": "business", "timezone": "Europe/London", "start": "09:00", "end": "17:00",
                         "extra_holidays": ["2026-10-12"]},
            "sla": {p: {"respond": "1h", "resolve": "8h"} for p in ("P1", "P2", "P3", "P4", "P5")},
            "availability": {"target_pct": 99.9, "credits": {"monthly_fee": 10000, "currency": "EUR"}},
        },
        "services": [
            {"id": "erp-db", "name": "ERP database", "category": "infrastructure", "criticality": "critical"},
            {"id": "wifi", "name": "Office Wi-Fi", "category": "network", "criticality": "medium"},
            {"id": "edr", "name": "Endpoint protection", "category": "security", "criticality": "high"},
            {"id": "helpdesk", "name": "Service desk", "category": "end-user", "criticality": "low"},
        ],
    }
)  # fmt: skip
COVERAGE = TENANT.contract.coverage.model_dump(mode="json")


def t(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat()


class Inc:
    """One incident's events, as triage and escalation would publish them."""

    def __init__(self, iid: str, priority: str, ci: str, category: str, opened: datetime, *, source: str = "generic",
                 detected: datetime | None = None, kind: str = "incident") -> None:  # fmt: skip
        self.ref = {"incident_id": iid, "number": f"OCTO-{iid}"}
        self.priority, self.opened = priority, opened
        self.events: list[tuple[str, datetime, dict[str, Any]]] = []
        self.add("incident.opened", opened, title=f"incident {iid}", priority=priority, impact="high", urgency="high",
                 category=category, ci=ci, tier=1, dedup_key=iid, source=source, opened_at=iso(opened),
                 detected_at=iso(detected) if detected else None, type=kind)  # fmt: skip

    def add(self, kind: str, when: datetime, **data: Any) -> Inc:
        self.events.append((kind, when, {**self.ref, **data}))
        return self

    def clock(self, clock: str) -> dict[str, Any]:
        due = self.opened + timedelta(hours=1 if clock == "response" else 8)
        return {"clock": clock, "priority": self.priority, "target_s": 3600.0 if clock == "response" else 28800.0,
                "started_at": iso(self.opened), "due_at": iso(due), "calendar": "09:00-17:00 mon-fri Europe/London",
                "coverage": COVERAGE}  # fmt: skip

    def started(self, *, per_clock: bool = False) -> Inc:
        """Both clocks started, as escalation publishes it (one sla.clocks_started), or `per_clock` as releases
        before issue 17 did (one sla.clock_started per clock), which ledgers still hold."""
        if per_clock:
            return self.add("sla.clock_started", self.opened, **self.clock("response")).add(
                "sla.clock_started", self.opened, **self.clock("resolution")
            )
        return self.add("sla.clocks_started", self.opened, clocks=[self.clock("response"), self.clock("resolution")])

    def stopped(self, clock: str, at: datetime, *, met: bool, coverage_s: float, paused_s: float = 0.0) -> Inc:
        return self.add("sla.clock_stopped", at, clock=clock, stopped_at=iso(at),
                        elapsed_s=(at - self.opened).total_seconds(), met=met, coverage_s=coverage_s,
                        paused_s=paused_s)  # fmt: skip

    def ack(self, at: datetime) -> Inc:
        return self.add("incident.acknowledged", at, by="eve", at=iso(at))

    def resolve(self, at: datetime) -> Inc:
        return self.add("incident.resolved", at, by="eve", at=iso(at), reason="manual")


def incidents(*, per_clock: bool = False) -> list[Inc]:
    a = (Inc("A", "P1", "erp-db", "infrastructure", t(6, 10), source="alertmanager", detected=t(6, 9, 58))
         .started(per_clock=per_clock).ack(t(6, 10, 5))
         .stopped("response", t(6, 10, 5), met=True, coverage_s=300)
         .resolve(t(6, 12)).stopped("resolution", t(6, 12), met=True, coverage_s=7200))  # fmt: skip
    b = (Inc("B", "P2", "wifi", "network", t(9, 15))
         .started(per_clock=per_clock).ack(t(9, 15, 10))
         .stopped("response", t(9, 15, 10), met=True, coverage_s=600)
         .add("incident.escalated", t(9, 15, 20), from_tier=1, to_tier=2, reason="network", at=iso(t(9, 15, 20)))
         .add("incident.held", t(9, 15, 30), reason="pending_customer", by="eve", at=iso(t(9, 15, 30)))
         .add("sla.clock_paused", t(9, 15, 30), clock="resolution", reason="pending_customer",
              paused_at=iso(t(9, 15, 30)), counted_s=1800.0, calendar="09:00-17:00 mon-fri Europe/London")
         .add("incident.resumed", t(13, 8, 30), reason="pending_customer", by="eve", at=iso(t(13, 8, 30)))
         .add("sla.clock_resumed", t(13, 8, 30), clock="resolution", reason="pending_customer",
              resumed_at=iso(t(13, 8, 30)), paused_s=3600.0, due_at=iso(t(13, 15)),
              calendar="09:00-17:00 mon-fri Europe/London")
         .resolve(t(13, 9)).stopped("resolution", t(13, 9), met=True, coverage_s=3600, paused_s=3600))  # fmt: skip
    c = (Inc("C", "P3", "helpdesk", "end-user", t(14, 9), source="manual")
         .started(per_clock=per_clock).ack(t(14, 9, 10))
         .stopped("response", t(14, 9, 10), met=True, coverage_s=600)
         .resolve(t(14, 9, 30)).stopped("resolution", t(14, 9, 30), met=True, coverage_s=1800))  # fmt: skip
    d = (Inc("D", "P1", "erp-db", "infrastructure", t(26, 8), source="alertmanager", detected=t(26, 7, 50))
         .started(per_clock=per_clock)
         .add("sla.breached", t(26, 10), clock="response", priority="P1", due_at=iso(t(26, 10)),
              breached_at=iso(t(26, 10)), late=False, tier=1)
         .ack(t(26, 10, 20)).resolve(t(26, 10, 40))
         .add("incident.reopened", t(26, 10, 50), by="eve", at=iso(t(26, 10, 50)), reason="manual")
         .resolve(t(26, 11)).stopped("resolution", t(26, 11), met=True, coverage_s=7200))  # fmt: skip
    e = (Inc("E", "P4", "edr", "security", t(20, 12), source="manual", detected=t(20, 11), kind="request")
         .add("incident.assigned", t(20, 12, 5), assignee="alice", previous=None, by="eve", at=iso(t(20, 12, 5)))
         .add("incident.assigned", t(20, 12, 10), assignee="bob", previous="alice", by="eve", at=iso(t(20, 12, 10)))
         .resolve(t(20, 13)))  # fmt: skip
    f = Inc("F", "P1", "erp-db", "infrastructure", t(30, 23, month=9)).resolve(
        t(1, 1)
    )  # September's, down into October
    g = Inc("G", "P2", "erp-db", "infrastructure", t(1, 0, month=11))  # November's: not this month
    return [a, b, c, d, e, f, g]


def change(cid: str, kind: str, at: datetime, state: str, *, change_type: str = "normal", cis=("erp-db",),
           **extra: Any) -> tuple[str, datetime, dict[str, Any]]:  # fmt: skip
    return (kind, at, {"change_id": cid, "number": cid.upper(), "change_type": change_type, "ci": cis[0],
                       "cis": list(cis), "title": f"change {cid}", "state": state, "from_state": None, "by": "alice",
                       "at": iso(at), **extra})  # fmt: skip


def changes() -> list[tuple[str, datetime, dict[str, Any]]]:
    window = {"change_id": "chg-1", "number": "CHG-1", "title": "change chg-1", "change_type": "normal",
              "cis": ["erp-db"], "starts_at": iso(t(6, 11)), "ends_at": iso(t(6, 11, 30))}  # fmt: skip
    linked = {"change_id": "chg-2", "number": "CHG-2", "change_type": "emergency", "incident_id": "D",
              "incident_number": "OCTO-D", "priority": "P1", "ci": "erp-db", "opened_at": iso(t(26, 8)),
              "counts_as_failed": True, "outcome": "failed", "at": iso(t(26, 8, 1))}  # fmt: skip
    return [
        change("chg-1", "change.created", t(1, 9), "draft"),
        change("chg-1", "change.approved", t(5, 9), "approved"),
        ("change.window_started", t(6, 11), {**window, "at": iso(t(6, 11))}),
        ("change.window_ended", t(6, 11, 30), {**window, "at": iso(t(6, 11, 30))}),
        change("chg-1", "change.completed", t(6, 11, 30), "completed", outcome="successful"),
        change("chg-2", "change.created", t(26, 5), "draft", change_type="emergency"),
        change("chg-2", "change.approved", t(26, 6), "approved", change_type="emergency"),
        change("chg-2", "change.completed", t(26, 7, 30), "completed", change_type="emergency", outcome="successful"),
        ("change.incident_linked", t(26, 8, 1), linked),
        change("chg-3", "change.rejected", t(15, 10), "rejected", cis=("wifi",)),
        change("chg-4", "change.cancelled", t(20, 10), "cancelled", change_type="standard", cis=("helpdesk",)),
        change("chg-5", "change.failed", t(28, 10), "failed", outcome="failed"),
        change("chg-6", "change.completed", t(2, 10, month=11), "completed", outcome="successful"),
        ("change.unmanaged_recorded", t(7, 10), {"signal_id": "s1", "source": "ci", "integration": "pd",
                                                 "summary": "deploy", "ci": "erp-db", "at": iso(t(7, 10))}),
        ("change.unmanaged_recorded", t(21, 10), {"signal_id": "s2", "source": "ci", "integration": "pd",
                                                  "summary": "deploy", "ci": "erp-db", "at": iso(t(21, 10))}),
    ]  # fmt: skip


def all_events(*, per_clock: bool = False) -> list[tuple[str, datetime, dict[str, Any]]]:
    """Every event, in the order the services would have recorded them (`per_clock`: as before issue 17)."""
    return sorted([e for i in incidents(per_clock=per_clock) for e in i.events] + changes(), key=lambda e: e[1])
