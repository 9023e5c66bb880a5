"""Heartbeats and control findings, pure: when a heartbeat is late, the one alert a late spell raises and the beat
that resolves it; a backup's missed RPO; a failing control's finding and the pass that closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.config import Control, Heartbeat
from libs.contracts import ControlResultRecorded, HeartbeatReceived
from services.triage.domain.controls import ControlCheck, record_result
from services.triage.domain.heartbeats import HeartbeatState, fire_if_late, record_beat, status

T0 = datetime(2026, 12, 1, 9, 14, tzinfo=UTC)
WATCHDOG = Heartbeat(name="acme-prometheus", expect_every="5m", grace="2m", ci="monitoring", severity="critical")
BACKUP = Heartbeat(
    name="nightly", kind="backup", expect_every="1d", grace="1h", rpo="24h", ci="backup", severity="error"
)


def beat(at: datetime, spec: Heartbeat = WATCHDOG, **run: object) -> HeartbeatReceived:
    return HeartbeatReceived(heartbeat=spec.name, kind=spec.kind, ci=spec.ci, source="http", integration="k",
                             received_at=at, **run)  # fmt: skip


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def test_a_heartbeat_is_armed_by_its_first_beat_and_late_past_its_grace():
    s = HeartbeatState("acme", "acme-prometheus")
    assert status(s, WATCHDOG, minutes(60)) == "never" and fire_if_late(s, WATCHDOG, minutes(60)) is None
    assert record_beat(s, beat(T0), WATCHDOG) is None
    assert s.due_at == minutes(7)  # 5 min expected + 2 min grace
    assert status(s, WATCHDOG, minutes(6.9)) == "ok" and fire_if_late(s, WATCHDOG, minutes(6.9)) is None
    alert = fire_if_late(s, WATCHDOG, minutes(7.1))
    assert alert is not None and status(s, WATCHDOG, minutes(7.1)) == "late"
    assert alert.summary == "no heartbeat from acme-prometheus since 2026-12-01 09:14 UTC"
    assert (alert.dedup_key, alert.status, alert.severity, alert.ci, alert.source) == (
        "heartbeat:acme-prometheus", "firing", "critical", "monitoring", "heartbeat"
    )  # fmt: skip
    assert alert.started_at == minutes(7) and alert.detection_delay_s == 6.0
    assert s.due_at is None and fire_if_late(s, WATCHDOG, minutes(90)) is None  # once per late spell


def test_the_next_beat_resolves_it_and_rearms():
    s = HeartbeatState("acme", "acme-prometheus")
    record_beat(s, beat(T0), WATCHDOG)
    late = fire_if_late(s, WATCHDOG, minutes(8))
    back = record_beat(s, beat(minutes(20)), WATCHDOG)
    assert back is not None and late is not None
    assert (back.status, back.dedup_key, back.received_at) == ("resolved", late.dedup_key, minutes(20))
    assert back.alert_id != late.alert_id and s.due_at == minutes(27) and status(s, WATCHDOG, minutes(21)) == "ok"
    again = fire_if_late(s, WATCHDOG, minutes(28))  # a second silence: a second alert, with ids of its own
    assert again is not None and again.alert_id not in (late.alert_id, back.alert_id)
    assert record_beat(s, beat(minutes(19)), WATCHDOG) is None  # a late-delivered older beat ends nothing
    assert s.last_beat_at == minutes(20)


def test_a_backup_that_keeps_failing_misses_its_rpo():
    s = HeartbeatState("acme", "nightly")
    record_beat(s, beat(T0, BACKUP, status="success", recovery_point=T0 - timedelta(hours=1)), BACKUP)
    assert s.due_at == T0 + timedelta(hours=24)  # recovery point + 24 h RPO + 1 h grace, before the silence
    record_beat(s, beat(T0 + timedelta(hours=20), BACKUP, status="failed"), BACKUP)
    alert = fire_if_late(s, BACKUP, T0 + timedelta(hours=24, minutes=1))
    assert alert is not None and s.late_reason == "rpo"
    assert alert.summary == "backup nightly: no good recovery point since 2026-12-01 08:14 UTC (RPO 24 h)"
    # Another failed run ends no silence: the RPO is still missed.
    assert record_beat(s, beat(T0 + timedelta(hours=25), BACKUP, status="failed"), BACKUP) is None
    assert status(s, BACKUP, T0 + timedelta(hours=25)) == "late"
    fixed = record_beat(s, beat(T0 + timedelta(hours=26), BACKUP, status="success",
                                recovery_point=T0 + timedelta(hours=25, minutes=30)), BACKUP)  # fmt: skip
    assert fixed is not None and fixed.status == "resolved"
    assert s.due_at == T0 + timedelta(hours=50, minutes=30)  # the new point + 24 h + 1 h


def test_a_backup_that_never_succeeded_counts_its_rpo_from_its_first_report():
    s = HeartbeatState("acme", "nightly")
    record_beat(s, beat(T0, BACKUP, status="failed"), BACKUP)
    assert s.recovery_point is None and s.due_at == T0 + timedelta(hours=25)


def test_a_moved_deadline_rearms_instead_of_firing():
    s = HeartbeatState("acme", "acme-prometheus")
    record_beat(s, beat(T0), WATCHDOG)
    slower = WATCHDOG.model_copy(update={"expect_every": timedelta(hours=1)})  # the config changed meanwhile
    assert fire_if_late(s, slower, minutes(8)) is None and s.due_at == minutes(62)


AUDIT = Control(id="audit-logging", framework_ref="HIPAA 164.312(b)", cis=["erp-db", "m365"], check_every="1d",
                incident_on_fail=True, severity="warning", title="Audit logging enabled")  # fmt: skip


def result(verdict: str, at: datetime, ci: str = "m365") -> ControlResultRecorded:
    return ControlResultRecorded(
        result_id=f"{verdict}{at}", control_id="audit-logging", framework_ref="HIPAA 164.312(b)", ci=ci,
        result=verdict, checked_at=at, integration="k", received_at=at, evidence_url="https://scanner.example/42",
    )  # fmt: skip


def test_a_failing_control_opens_one_finding_and_the_next_pass_closes_it():
    c = ControlCheck("acme", "audit-logging", "m365")
    assert record_result(c, result("pass", T0), AUDIT) is None
    opened = record_result(c, result("fail", minutes(10)), AUDIT)
    assert opened is not None and opened.summary == "control failed: Audit logging enabled (HIPAA 164.312(b)) on m365"
    assert (opened.dedup_key, opened.severity, opened.labels["evidence_url"]) == (
        "control:audit-logging:m365", "warning", "https://scanner.example/42"
    )  # fmt: skip
    assert record_result(c, result("fail", minutes(20)), AUDIT) is None  # still failing: the same finding
    assert record_result(c, result("pass", minutes(5)), AUDIT) is None  # checked before the newest: history
    closed = record_result(c, result("pass", minutes(30)), AUDIT)
    assert closed is not None and closed.status == "resolved" and closed.dedup_key == opened.dedup_key
    assert c.failing_since is None and (c.result, c.checked_at) == ("pass", minutes(30))


def test_a_control_without_incident_on_fail_raises_nothing():
    quiet = AUDIT.model_copy(update={"incident_on_fail": False})
    c = ControlCheck("acme", "audit-logging", "m365")
    assert record_result(c, result("fail", T0), quiet) is None and c.result == "fail"
