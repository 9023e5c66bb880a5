"""Payloads intake publishes: an alert from a monitoring tool, a change a tool reported."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from libs.contracts.base import (
    Contract,
    Severity,
)


class AlertReceived(Contract):
    """intake -> triage: one normalised signal from a monitoring tool."""

    TYPE: ClassVar[str] = "alert.received"

    alert_id: str
    source: str  # the tool: generic, alertmanager, grafana, pagerduty
    integration: str  # name of the integration key that authenticated it
    dedup_key: str
    # `acknowledged` comes from tools that can acknowledge (PagerDuty Events v2 `event_action: acknowledge`).
    status: Literal["firing", "acknowledged", "resolved"]
    severity: Severity
    summary: str
    description: str | None = None
    ci: str | None = None
    labels: dict[str, str] = {}
    started_at: datetime | None = None  # when the source says the problem began
    received_at: datetime
    # received_at - started_at (>= 0), kept so reporting can compute mean time to detect.
    detection_delay_s: float | None = None
    # Fields whose control characters intake replaced with U+FFFD before accepting it ("summary",
    # "labels.host"); optional, so alerts from an older intake still read.
    sanitized: list[str] = []
    # `request`: a service request (a mail to a tenant's request address), opened as type `request`; optional,
    # so every alert from before it (and from any other format) is an alert.
    kind: Literal["alert", "request"] = "alert"


class ChangeSignalReceived(Contract):
    """intake -> change: a monitoring/deploy tool reported a change (PagerDuty change events): an unmanaged change."""

    TYPE: ClassVar[str] = "intake.change_received"

    signal_id: str
    source: str
    integration: str
    summary: str
    ci: str | None = None
    timestamp: datetime | None = None
    received_at: datetime
    custom_details: dict = {}
    links: list[dict] = []
    sanitized: list[str] = []  # as on AlertReceived
