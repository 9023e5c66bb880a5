"""One normalised alert shape for every format, and its identity (pure).

Each format module (generic.py, alertmanager.py, pagerduty.py) turns its body into `Signal`s; `to_alert` makes
the AlertReceived event payload, whose id is derived from its content so that a sender's retry is one event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator

from libs.contracts import AlertReceived, Severity

Status = Literal["firing", "acknowledged", "resolved"]
MAX_SUMMARY, MAX_DESCRIPTION, MAX_LABELS, MAX_LABEL_VALUE = 1024, 8192, 64, 1024

# Severity words monitoring tools use, folded onto PagerDuty's four (which Tierline's priority matrix reads).
SEVERITY_WORDS: dict[str, Severity] = {
    **dict.fromkeys(["critical", "crit", "fatal", "page", "disaster", "emergency", "p1", "sev1"], "critical"),
    **dict.fromkeys(["error", "err", "high", "major", "p2", "sev2"], "error"),
    **dict.fromkeys(["warning", "warn", "medium", "average", "minor", "p3", "sev3"], "warning"),
    **dict.fromkeys(["info", "informational", "information", "low", "none", "ok", "notice", "p4", "p5"], "info"),
}
DEFAULT_SEVERITY: Severity = "error"


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


# A time a tool sends: one without a UTC offset is read as UTC (tools send UTC, and PagerDuty accepts such
# times), rather than left naive to fail the first comparison with an aware one later on.
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def severity_of(word: str | None) -> Severity:
    """A tool's severity word as one of critical|error|warning|info; missing or unknown -> error."""
    return SEVERITY_WORDS.get((word or "").strip().lower(), DEFAULT_SEVERITY)


@dataclass
class Signal:
    """One alert as a format module read it, before the tenant and the key's defaults are applied."""

    source: str
    dedup_key: str
    status: Status
    severity: Severity
    summary: str
    description: str | None = None
    ci: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    tenant_hint: str | None = None  # the tenant label, read only for provider-wide keys
    tenant_field: str = ""  # where in the body the tenant label is read, as an error names it (labels.tenant)
    kind: Literal["alert", "request"] = "alert"  # request: a service request (by e-mail, docs/email.md)


def clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_labels(labels: dict[str, object]) -> dict[str, str]:
    """At most 64 labels of at most 1 KiB each, as strings (tools send numbers and booleans too)."""
    out: dict[str, str] = {}
    for k, v in list(labels.items())[:MAX_LABELS]:
        if v is None or isinstance(v, dict | list):
            continue
        out[str(k)[:255]] = clip(str(v), MAX_LABEL_VALUE) or ""
    return out


def sanitized_for(changed: list[str], index: int, *, batch: bool) -> list[str]:
    """The body fields `clean_body` changed that belong to the request's alert `index`: all of them for a
    one-alert body; for a notification of many, those under `alerts.<index>.` (as paths within that alert)
    and those outside `alerts` that every alert shares."""
    if not batch:
        return changed
    own = f"alerts.{index}."
    return [p.removeprefix(own) for p in changed if p.startswith(own)] + [
        p for p in changed if not p.startswith("alerts.")
    ]


def content_id(tenant: str, integration: str, signal: Signal, idempotency_key: str | None, index: int) -> str:
    """The alert's identity: the same alert delivered twice is the same event (JetStream stores it once).

    With an `Idempotency-Key` header the sender names the delivery; without one, the delivery is what it
    says (dedup key, state, severity, text, CI, labels, start). A repeat that says the same thing within the
    duplicate window is taken for a retry; after it, it counts as a new occurrence.
    """
    if idempotency_key:
        basis: list[object] = ["idem", tenant, integration, idempotency_key, index]
    else:
        s = signal
        basis = [tenant, integration, s.source, s.dedup_key, s.status, s.severity, s.summary, s.description,
                 s.ci, sorted(s.labels.items()), s.started_at.isoformat() if s.started_at else None]  # fmt: skip
    return hashlib.sha256(json.dumps(basis, separators=(",", ":")).encode()).hexdigest()[:32]


def to_alert(
    signal: Signal,
    *,
    alert_id: str,
    integration: str,
    bound_ci: str | None,
    received_at: datetime,
    sanitized: list[str] | None = None,
) -> AlertReceived:
    delay = None
    if signal.started_at is not None and signal.status == "firing":
        delay = max(0.0, (received_at - signal.started_at).total_seconds())
    return AlertReceived(
        alert_id=alert_id,
        source=signal.source,
        integration=integration,
        dedup_key=signal.dedup_key,
        status=signal.status,
        severity=signal.severity,
        summary=clip(signal.summary, MAX_SUMMARY) or "(no summary)",
        description=clip(signal.description, MAX_DESCRIPTION),
        ci=signal.ci or bound_ci,
        labels=signal.labels,
        started_at=signal.started_at,
        received_at=received_at,
        detection_delay_s=delay,
        sanitized=sanitized or [],
        kind=signal.kind,
    )
