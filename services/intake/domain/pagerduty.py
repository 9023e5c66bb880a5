"""PagerDuty Events API v2 (`/v2/enqueue`, `/v2/change/enqueue`): the bodies, and how each maps (pure).

PagerDuty's answer shapes are api/pagerduty.py's: together they let an existing PagerDuty client library work
against Tierline by changing only its base URL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.config import sha256_hex
from libs.contracts import ChangeSignalReceived, Severity
from services.intake.domain.alert import Signal, UtcDatetime, clean_labels

Short = Annotated[str, Field(min_length=1, max_length=255)]
Summary = Annotated[str, Field(min_length=1, max_length=1024)]
Url = Annotated[str, Field(max_length=2048)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PdLink(_Lenient):
    href: Url
    text: Annotated[str, Field(max_length=1024)] | None = None


class PdImage(_Lenient):
    src: Url
    href: Url | None = None
    alt: Annotated[str, Field(max_length=1024)] | None = None


class PdPayload(_Lenient):
    summary: Summary
    source: Short
    severity: Severity
    timestamp: UtcDatetime | None = None
    component: Short | None = None
    group: Short | None = None
    class_: Short | None = Field(default=None, alias="class")
    custom_details: dict[str, Any] | str | None = None


class PdEvent(_Lenient):
    """POST /v2/enqueue (and /v1/webhooks/pagerduty)."""

    routing_key: Short
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: Short | None = None
    payload: PdPayload | None = None
    links: Annotated[list[PdLink], Field(max_length=50)] = []
    images: Annotated[list[PdImage], Field(max_length=50)] = []
    client: Short | None = None
    client_url: Url | None = None

    @model_validator(mode="after")
    def _action_needs(self) -> PdEvent:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("'payload' is required for event_action trigger")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError(f"'dedup_key' is required for event_action {self.event_action}")
        return self


class PdChangePayload(_Lenient):
    summary: Summary
    source: Short | None = None
    timestamp: UtcDatetime | None = None
    custom_details: dict[str, Any] | None = None


class PdChangeEvent(_Lenient):
    """POST /v2/change/enqueue: a deploy or config change, recorded on the tenant's change calendar."""

    routing_key: Short
    payload: PdChangePayload
    links: Annotated[list[PdLink], Field(max_length=50)] = []


def generated_dedup_key(event: PdEvent) -> str:
    """A trigger without a dedup_key gets one from its content (returned to the sender, like PagerDuty does).

    From content rather than random, so a retried trigger lands on the same incident.
    """
    basis = event.model_dump_json(include={"payload", "client", "client_url"}, by_alias=True)
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def _details_text(details: dict[str, Any] | str | None, links: list[PdLink]) -> str | None:
    parts = []
    if isinstance(details, str):
        parts.append(details)
    elif details:
        parts.append(json.dumps(details, indent=2, sort_keys=True, default=str))
    parts += [f"{link.text or 'link'}: {link.href}" for link in links]
    return "\n".join(parts) or None


def pd_signal(event: PdEvent, *, dedup_key: str, known_cis: set[str], ci_label: str, tenant_label: str) -> Signal:
    """The event as a Signal. CI: custom_details[ci_label], else component/source/group naming a declared CI."""
    if event.event_action != "trigger":
        return Signal(
            source="pagerduty",
            dedup_key=dedup_key,
            status="acknowledged" if event.event_action == "acknowledge" else "resolved",
            severity="info",
            summary=f"{event.event_action} from a PagerDuty Events API client",
            tenant_field=f"payload.custom_details.{tenant_label}",
        )
    p = event.payload
    assert p is not None  # the model requires it for triggers
    details = p.custom_details if isinstance(p.custom_details, dict) else {}
    ci = details.get(ci_label) if isinstance(details.get(ci_label), str) else None
    ci = ci or next((c for c in (p.component, p.source, p.group) if c in known_cis), None)
    scalars = {f"detail.{k}": v for k, v in details.items() if not isinstance(v, dict | list)}
    labels = {"source": p.source, "component": p.component, "group": p.group, "class": p.class_,
              "client": event.client, "client_url": event.client_url, **scalars}  # fmt: skip
    return Signal(
        source="pagerduty",
        dedup_key=dedup_key,
        status="firing",
        severity=p.severity,
        summary=p.summary,
        description=_details_text(p.custom_details, event.links),
        ci=ci,
        labels=clean_labels(labels),
        started_at=p.timestamp,
        tenant_hint=details.get(tenant_label) if isinstance(details.get(tenant_label), str) else None,
        tenant_field=f"payload.custom_details.{tenant_label}",
    )


def change_tenant_signal(event: PdChangeEvent, *, tenant_label: str) -> Signal:
    """What a provider-wide key's change event says about its tenant: the label in custom_details."""
    hint = (event.payload.custom_details or {}).get(tenant_label)
    return Signal("pagerduty", "", "firing", "info", event.payload.summary,
                  tenant_hint=hint if isinstance(hint, str) else None,
                  tenant_field=f"payload.custom_details.{tenant_label}")  # fmt: skip


def change_signal(
    event: PdChangeEvent,
    *,
    tenant: str,
    known_cis: Container[str],
    integration: str,
    bound_ci: str | None,
    ci_label: str,
    idempotency_key: str | None,
    received_at: datetime,
    sanitized: list[str],
) -> ChangeSignalReceived:
    """The change event as a ChangeSignalReceived. CI: custom_details[ci_label], else the key's CI, else the
    source naming a declared CI. Its id is the Idempotency-Key's, else its content's (a retry is one event)."""
    p = event.payload
    details = p.custom_details or {}
    ci = details.get(ci_label) if isinstance(details.get(ci_label), str) else None
    ci = ci or bound_ci or (p.source if p.source in known_cis else None)
    basis = json.dumps([tenant, integration, event.model_dump(mode="json")], sort_keys=True)
    signal_id = sha256_hex(idempotency_key or basis)[:32]
    return ChangeSignalReceived(
        signal_id=signal_id, source=p.source or "pagerduty", integration=integration, summary=p.summary, ci=ci,
        timestamp=p.timestamp, received_at=received_at, custom_details=details,
        links=[link.model_dump(exclude_none=True) for link in event.links], sanitized=sanitized,
    )  # fmt: skip
