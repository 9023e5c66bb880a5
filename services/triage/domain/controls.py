"""Compliance controls, pure: a failing result opens a finding, the next pass closes it.

For a control with `incident_on_fail`, a CI's first failing result raises a firing alert (dedup key
`control:<id>:<ci>`) that opens an incident through the ordinary triage path, and the first passing result
after it raises the resolved alert. Results apply in the order they were checked: one checked earlier than the
newest known is history (reporting keeps it; it changes no finding).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from libs.config import Control
from libs.contracts import AlertReceived, ControlResultRecorded

SOURCE = "control"


@dataclass
class ControlCheck:
    """One control on one CI as triage knows it (a `control_checks` row)."""

    tenant: str
    control_id: str
    ci: str
    result: str | None = None  # the newest result: pass | fail
    checked_at: datetime | None = None
    failing_since: datetime | None = None  # its finding's alert is firing
    fired: int = 0
    incident_id: str | None = None


def _alert(c: ControlCheck, spec: Control, r: ControlResultRecorded, status: str, summary: str) -> AlertReceived:
    labels = {"control": spec.id, "framework_ref": spec.framework_ref}
    if r.evidence_url:
        labels["evidence_url"] = r.evidence_url
    basis = "\x1f".join([c.tenant, spec.id, c.ci, str(c.fired), status])
    return AlertReceived(
        alert_id="ctl-" + hashlib.sha256(basis.encode()).hexdigest()[:28], source=SOURCE, integration=spec.id,
        dedup_key=f"control:{spec.id}:{c.ci}", status=status, severity=spec.severity, summary=summary,
        description=r.note, ci=c.ci, labels=labels, started_at=r.checked_at if status == "firing" else None,
        received_at=r.received_at,
    )  # fmt: skip


def record_result(c: ControlCheck, r: ControlResultRecorded, spec: Control) -> AlertReceived | None:
    """Apply a result; the alert it raises when it opens or closes a finding of an `incident_on_fail` control."""
    if c.checked_at is not None and r.checked_at < c.checked_at:
        return None
    c.result, c.checked_at = r.result, r.checked_at
    name = spec.title or spec.id
    if r.result == "fail" and c.failing_since is None and spec.incident_on_fail:
        c.fired, c.failing_since = c.fired + 1, r.checked_at
        return _alert(c, spec, r, "firing", f"control failed: {name} ({spec.framework_ref}) on {c.ci}")
    if r.result == "pass" and c.failing_since is not None:
        c.failing_since = None
        return _alert(c, spec, r, "resolved", f"control passes again: {name} ({spec.framework_ref}) on {c.ci}")
    return None
