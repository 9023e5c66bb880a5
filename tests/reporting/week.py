"""A known week for tenant "vault" (1-8 November 2026), built so its data and compliance figures can be worked out
by hand: two backup jobs, restore tests, two controls. The worked answers are in test_protection.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.config import PRIORITIES, Tenant
from libs.contracts import ControlResultRecorded, HeartbeatReceived, RecoveryTestRecorded
from services.reporting.domain.stories import Event

TENANT = Tenant.model_validate(
    {
        "id": "vault",
        "name": "Vault Storage",
        "code": "VAULT",
        "contract": {"tier": "premium", "sla": {p: {"respond": "1h", "resolve": "8h"} for p in PRIORITIES}},
        "services": [
            {"id": "erp-db", "name": "ERP database", "category": "infrastructure", "criticality": "critical",
             "rto": "4h"},
            {"id": "m365", "name": "Microsoft 365", "category": "cloud", "criticality": "high"},
            {"id": "backup", "name": "Nightly backups", "category": "data", "criticality": "medium"},
        ],
        "heartbeats": [
            {"name": "nightly", "kind": "backup", "expect_every": "1d", "grace": "2h", "rpo": "24h", "ci": "backup"},
            {"name": "archive", "kind": "backup", "expect_every": "7d", "rpo": "48h", "ci": "backup"},
            {"name": "spare", "kind": "backup", "expect_every": "1d", "rpo": "24h", "ci": "backup"},  # never reports
            {"name": "watchdog", "expect_every": "5m", "ci": "erp-db"},  # not a backup: no RPO figures
        ],
        "controls": [
            {"id": "audit-logging", "title": "Audit logging enabled", "framework_ref": "HIPAA 164.312(b)",
             "cis": ["erp-db", "m365"], "check_every": "1d", "incident_on_fail": True},
            {"id": "backup-encryption", "framework_ref": "HIPAA 164.312(a)(2)(iv)", "cis": ["backup"],
             "check_every": "7d"},
        ],
    }
)  # fmt: skip
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC)


def t(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _run(name: str, at: datetime, point: datetime | None = None, *, failed: bool = False) -> Event:
    beat = HeartbeatReceived(
        heartbeat=name, kind="backup", ci="backup", source="http", integration="veeam",
        status="failed" if failed else "success", recovery_point=point, received_at=at,
    )  # fmt: skip
    return Event("heartbeat.received", beat.model_dump(mode="json"), at)


def _restore(ci: str, began: datetime, done: datetime, success: bool = True) -> Event:
    test = RecoveryTestRecorded(test_id=f"{ci}-{began:%d%H}", ci=ci, started_at=began, finished_at=done,
                                success=success, integration="veeam", received_at=done)  # fmt: skip
    return Event("recovery_test.recorded", test.model_dump(mode="json"), done)


def _result(control: str, ci: str, verdict: str, checked: datetime, evidence: str | None = None) -> Event:
    result = ControlResultRecorded(result_id=f"{control}-{ci}-{checked:%d%H}", control_id=control, framework_ref="x",
                                   ci=ci, result=verdict, evidence_url=evidence, checked_at=checked,
                                   integration="scanner", received_at=checked)  # fmt: skip
    return Event("control.result_recorded", result.model_dump(mode="json"), checked)


def events() -> list[Event]:
    """In recording order."""
    return [
        _run("nightly", t(31, 1, 30, month=10), t(31, 1, 0, month=10)),  # before the week: its reference at the start
        _run("nightly", t(1, 1, 30), t(1, 1, 0)),
        _run("nightly", t(2, 3, 0), t(2, 1, 0)),  # a long run: known at 03:00, restores to 01:00
        _run("archive", t(3), failed=True),  # the archive job's first report ever, and it failed
        _run("nightly", t(5, 1, 30), failed=True),
        _run("nightly", t(6, 1, 30), t(6, 1, 0)),
        _restore("erp-db", t(30, 10, month=10), t(30, 11, month=10)),  # finished before the week
        _restore("erp-db", t(2, 10), t(2, 13, 30)),  # 3 h 30 min: within the 4 h RTO
        _restore("erp-db", t(4, 10), t(4, 14, 30)),  # 4 h 30 min: over it
        _restore("erp-db", t(6, 10), t(6, 11), success=False),  # quick, but it failed
        _restore("m365", t(6, 12), t(6, 12, 20)),  # m365 has no RTO: listed, not counted
        _restore("erp-db", t(7, 23), t(8, 0, 30)),  # finished after the week
        _result("backup-encryption", "backup", "pass", t(28, month=10)),  # 11 days before the end: stale for 7 d
        _result("audit-logging", "m365", "pass", t(5)),
        _result("audit-logging", "erp-db", "pass", t(7, 6)),
        _result("audit-logging", "m365", "fail", t(7, 12), "https://scanner.example/runs/77"),
        _result("audit-logging", "erp-db", "fail", t(8, 6)),  # checked after the week ended
    ]


def as_json(value: Any) -> Any:
    """A figure as the API sends it (times in ISO 8601)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value.isoformat() if isinstance(value, datetime) else value
