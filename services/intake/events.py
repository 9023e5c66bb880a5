"""The events intake publishes: each alert a tool sent, and each change a PagerDuty client reported.

Both ids come from the content (or the sender's Idempotency-Key), so a sender's retry is the same event and
JetStream's duplicate window stores it once.
"""

from __future__ import annotations

from libs.contracts import AlertReceived, ChangeSignalReceived
from libs.events import Envelope, raise_event


def alert_received(alert: AlertReceived, *, tenant: str, correlation_id: str | None) -> Envelope:
    """`alert.received`; the request's X-Request-Id (if any) follows it to the incident, its clocks, its breach."""
    return raise_event("alert.received", alert, source="intake", tenant=tenant, subject=alert.alert_id,
                       correlation_id=correlation_id, event_id=alert.alert_id)  # fmt: skip


def change_received(change: ChangeSignalReceived, *, tenant: str) -> Envelope:
    """`intake.change_received`: a change the tools made, for change to record as unmanaged."""
    return raise_event("intake.change_received", change, source="intake", tenant=tenant, subject=change.signal_id,
                       event_id=change.signal_id)  # fmt: skip
