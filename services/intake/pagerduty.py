"""PagerDuty Events API v2 (`/v2/enqueue`, `/v2/change/enqueue`): bodies, mapping, and PagerDuty's answers.

Tierline answers exactly as PagerDuty does, so an existing PagerDuty client library works against it by
changing only its base URL.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.contracts import Severity
from libs.errors import ApiError
from services.intake.domain import Signal, UtcDatetime, clean_labels

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


# PagerDuty's answer shapes. Everything the PagerDuty endpoints answer goes through these.
PD_STATUS = {
    400: ("invalid event", "Event object is invalid"),
    401: ("unauthorized", "Routing key is unknown or revoked"),
    403: ("forbidden", "Routing key may not send this event"),
    413: ("invalid event", "Event object is too large"),
    415: ("invalid event", "Content-Type must be application/json"),
    429: ("throttle event", "Requests for this service are arriving too quickly. Please retry later."),
    503: ("unavailable", "Event not stored; retry later"),
}


def pd_success(dedup_key: str | None) -> web.Response:
    body: dict[str, Any] = {"status": "success", "message": "Event processed"}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return web.json_response(body, status=202)


def pd_error(err: ApiError) -> web.Response:
    """Any ApiError in PagerDuty's shape; schema errors (422 elsewhere) are PagerDuty's 400 invalid event."""
    status = 400 if err.status == 422 else err.status
    label, message = PD_STATUS.get(status, ("error", err.message))
    errors = [f"{d['field']}: {d['message']}" if isinstance(d, dict) and "field" in d else str(d) for d in err.details]
    return web.json_response(
        {"status": label, "message": message, "errors": errors or [err.message]}, status=status, headers=err.headers
    )
