"""The signals tools send besides alerts (pure): a heartbeat's beat (and a backup run), a restore test, a
compliance control's result. Each body is checked against the tenant's config, and each becomes one event.

A refusal is a `Refused` naming the fields, which the API answers 422 (404 for a name the tenant does not
configure). Times a tool sends may not lie in the future beyond `SKEW` (clocks drift; a recovery point of
tomorrow would hide a missed RPO).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.config import Control, Heartbeat, Tenant
from libs.contracts import ControlResultRecorded, HeartbeatReceived, RecoveryTestRecorded
from libs.events import new_id
from services.intake.domain.alert import Signal, UtcDatetime

SKEW = timedelta(minutes=5)
Note = Annotated[str, Field(min_length=1, max_length=2000)]


class Refused(Exception):
    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))
        self.details = details


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Beat(_Body):
    """POST /v1/heartbeats/{name}: no body at all is a beat; a backup job says how its run went."""

    status: Literal["success", "failed"] | None = None
    recovery_point: UtcDatetime | None = None
    note: Note | None = None


class RecoveryTest(_Body):
    """POST /v1/recovery-tests: a restore of a CI, timed against the CI's `rto`."""

    ci: Annotated[str, Field(min_length=1, max_length=255)]
    started_at: UtcDatetime
    finished_at: UtcDatetime
    success: bool
    note: Note | None = None


class ControlResult(_Body):
    """POST /v1/controls/{id}/results: a scanner's verdict on one CI in the control's scope."""

    result: Literal["pass", "fail"]
    ci: Annotated[str, Field(min_length=1, max_length=255)] | None = None  # may be left out if the scope is one CI
    evidence_url: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")] | None = None
    checked_at: UtcDatetime | None = None  # default: when it arrived
    note: Note | None = None


def content_id(*parts: object) -> str:
    """An id from what a signal says: the same report sent again is the same event (stored once)."""
    return hashlib.sha256(json.dumps(parts, default=str, separators=(",", ":")).encode()).hexdigest()[:32]


def _not_future(field: str, at: datetime | None, now: datetime) -> list[dict[str, str]]:
    return [{"field": field, "message": "lies in the future"}] if at is not None and at > now + SKEW else []


def beat(spec: Heartbeat, body: Beat, *, source: str, integration: str, now: datetime) -> HeartbeatReceived:
    """A beat of `spec`. A backup run is a success unless it says failed; a success restores to its
    `recovery_point`, else to the moment it reported."""
    problems = _not_future("recovery_point", body.recovery_point, now)
    status, point = body.status, body.recovery_point
    if spec.kind != "backup":
        problems += [{"field": f, "message": "only a backup heartbeat carries it"}
                     for f in ("status", "recovery_point") if getattr(body, f) is not None]  # fmt: skip
    elif status == "failed" and point is not None:
        problems.append({"field": "recovery_point", "message": "a failed backup run has no recovery point"})
    else:
        status = status or "success"
        point = point or (now if status == "success" else None)
    if problems:
        raise Refused(problems)
    return HeartbeatReceived(
        heartbeat=spec.name, kind=spec.kind, ci=spec.ci, source=source, integration=integration, status=status,
        recovery_point=point, note=body.note, received_at=now,
    )  # fmt: skip


def beat_id(tenant: str, b: HeartbeatReceived, idempotency_key: str | None) -> str:
    """A backup's recovery point names its run, so a retry of the report is one event; a plain beat is new
    each time (a Watchdog repeats the very same notification every few minutes, and each must count)."""
    if idempotency_key:
        return content_id("beat", tenant, b.heartbeat, idempotency_key)
    if b.recovery_point is not None:
        return content_id("beat", tenant, b.heartbeat, b.status, b.recovery_point)
    return new_id()


def watchdog(tenant: Tenant, signal: Signal) -> Heartbeat | None:
    """The heartbeat an Alertmanager (or Grafana) alert stands for, if its alert name is mapped (Watchdog)."""
    return tenant.heartbeat_alertnames.get(signal.labels.get("alertname", ""))


def recovery_test(
    tenant: Tenant, body: RecoveryTest, *, integration: str, idempotency_key: str | None, now: datetime
) -> RecoveryTestRecorded:
    problems = _not_future("finished_at", body.finished_at, now)
    if body.ci not in tenant.ci_index:
        problems.append({"field": "ci", "message": f"the tenant has no service {body.ci!r}"})
    if body.finished_at < body.started_at:
        problems.append({"field": "finished_at", "message": "is before started_at"})
    if problems:
        raise Refused(problems)
    said = (body.ci, body.started_at, body.finished_at, body.success, body.note)
    test_id = content_id("restore", tenant.id, *(["idem", idempotency_key] if idempotency_key else said))
    return RecoveryTestRecorded(
        test_id=test_id, ci=body.ci, started_at=body.started_at, finished_at=body.finished_at, success=body.success,
        note=body.note, integration=integration, received_at=now,
    )  # fmt: skip


def control_result(
    tenant: Tenant, control: Control, body: ControlResult, *, integration: str, idempotency_key: str | None,
    now: datetime,
) -> ControlResultRecorded:  # fmt: skip
    problems = _not_future("checked_at", body.checked_at, now)
    ci = body.ci or (control.cis[0] if len(control.cis) == 1 else None)
    if ci is None:
        problems.append({"field": "ci", "message": f"required: the control covers {', '.join(control.cis)}"})
    elif ci not in control.cis:
        problems.append({"field": "ci", "message": f"not in the control's scope ({', '.join(control.cis)})"})
    if problems or ci is None:
        raise Refused(problems)
    checked = body.checked_at or now
    said = (control.id, ci, body.result, checked, body.evidence_url, body.note)
    result_id = content_id("control", tenant.id, *(["idem", idempotency_key] if idempotency_key else said))
    return ControlResultRecorded(
        result_id=result_id, control_id=control.id, framework_ref=control.framework_ref, ci=ci, result=body.result,
        evidence_url=body.evidence_url, note=body.note, checked_at=checked, integration=integration, received_at=now,
    )  # fmt: skip
