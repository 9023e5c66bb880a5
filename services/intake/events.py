"""The events intake publishes: each alert a tool sent, each change a PagerDuty client reported, and the
signals besides alerts (heartbeats, restore tests, control results).

Their ids come from the content (or the sender's Idempotency-Key), so a sender's retry is the same event and
JetStream's duplicate window stores it once; a plain heartbeat's beat is the exception (domain/signals.py).
"""

from __future__ import annotations

from libs.contracts import (
    AlertReceived,
    ChangeSignalReceived,
    ControlResultRecorded,
    HeartbeatReceived,
    RecoveryTestRecorded,
)
from libs.events import Envelope, raise_event


def alert_received(alert: AlertReceived, *, tenant: str, correlation_id: str | None) -> Envelope:
    """`alert.received`; the request's X-Request-Id (if any) follows it to the incident, its clocks, its breach."""
    return raise_event("alert.received", alert, source="intake", tenant=tenant, subject=alert.alert_id,
                       correlation_id=correlation_id, event_id=alert.alert_id)  # fmt: skip


def change_received(change: ChangeSignalReceived, *, tenant: str) -> Envelope:
    """`intake.change_received`: a change the tools made, for change to record as unmanaged."""
    return raise_event("intake.change_received", change, source="intake", tenant=tenant, subject=change.signal_id,
                       event_id=change.signal_id)  # fmt: skip


def heartbeat_received(beat: HeartbeatReceived, *, tenant: str, event_id: str) -> Envelope:
    """`heartbeat.received`: triage re-arms the heartbeat's deadline (and resolves its silence)."""
    return raise_event("heartbeat.received", beat, source="intake", tenant=tenant, subject=beat.heartbeat,
                       event_id=event_id)  # fmt: skip


def recovery_test_recorded(test: RecoveryTestRecorded, *, tenant: str) -> Envelope:
    """`recovery_test.recorded`: for reporting's RTO figures."""
    return raise_event("recovery_test.recorded", test, source="intake", tenant=tenant, subject=test.ci,
                       event_id=test.test_id)  # fmt: skip


def control_result_recorded(result: ControlResultRecorded, *, tenant: str) -> Envelope:
    """`control.result_recorded`: triage opens or resolves the control's finding, reporting measures coverage."""
    return raise_event("control.result_recorded", result, source="intake", tenant=tenant, subject=result.control_id,
                       event_id=result.result_id)  # fmt: skip
