"""Payloads intake publishes for the signals tools send besides alerts: heartbeats (and backup runs), restore
tests and compliance control results. Triage watches the first and last for silence and failure; reporting
measures all three (docs/heartbeats.md, docs/metrics.md)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from libs.contracts.base import Contract


class HeartbeatReceived(Contract):
    """intake -> triage, reporting: a configured heartbeat beat (an HTTP call, or a mapped Alertmanager alert)."""

    TYPE: ClassVar[str] = "heartbeat.received"

    heartbeat: str  # its name in the tenant's config
    kind: Literal["heartbeat", "backup"]
    ci: str | None = None
    source: str  # http, alertmanager, grafana
    integration: str  # the integration key that sent it
    # A backup run's outcome, and the point in time it can restore to (success only; default: received_at).
    status: Literal["success", "failed"] | None = None
    recovery_point: datetime | None = None
    note: str | None = None
    received_at: datetime


class RecoveryTestRecorded(Contract):
    """intake -> reporting: a restore test of a CI, measured against the CI's RTO."""

    TYPE: ClassVar[str] = "recovery_test.recorded"

    test_id: str
    ci: str
    started_at: datetime
    finished_at: datetime
    success: bool
    note: str | None = None
    integration: str
    received_at: datetime


class ControlResultRecorded(Contract):
    """intake -> triage, reporting: a scanner's result for a compliance control on one CI in its scope."""

    TYPE: ClassVar[str] = "control.result_recorded"

    result_id: str
    control_id: str
    framework_ref: str
    ci: str
    result: Literal["pass", "fail"]
    evidence_url: str | None = None
    note: str | None = None
    checked_at: datetime
    integration: str
    received_at: datetime
