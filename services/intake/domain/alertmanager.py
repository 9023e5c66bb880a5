"""Prometheus Alertmanager webhook (version 4) and Grafana alerting webhook bodies, and how each alert maps.

Grafana's webhook contact point sends the Alertmanager v4 body with a few more fields, so one mapping
serves both. Unknown fields are ignored (both tools add fields between releases); missing or mistyped
known fields are 422 with their paths.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.alert import Signal, UtcDatetime, clean_labels, severity_of

Str = Annotated[str, Field(max_length=8192)]
Labels = Annotated[dict[str, Str], Field(max_length=256)]
NEVER = datetime(1, 1, 1).year  # Alertmanager's endsAt while firing: 0001-01-01T00:00:00Z


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AmAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = {}
    startsAt: UtcDatetime
    endsAt: UtcDatetime | None = None
    generatorURL: Str = ""
    fingerprint: Annotated[str, Field(min_length=1, max_length=255)]


class AlertmanagerNotification(_Lenient):
    """POST /v1/webhooks/alertmanager: one notification, many alerts (each becomes its own alert event)."""

    version: Literal["4"]
    groupKey: Str
    truncatedAlerts: Annotated[int, Field(ge=0)] = 0
    status: Literal["firing", "resolved"]
    receiver: Str
    groupLabels: Labels = {}
    commonLabels: Labels = {}
    commonAnnotations: Labels = {}
    externalURL: Str = ""
    alerts: Annotated[list[AmAlert], Field(min_length=1, max_length=1000)]


class GrafanaAlert(AmAlert):
    values: dict[str, float | None] | None = None
    silenceURL: Str = ""
    dashboardURL: Str = ""
    panelURL: Str = ""
    imageURL: Str = ""


class GrafanaNotification(AlertmanagerNotification):
    """POST /v1/webhooks/grafana: the Alertmanager v4 body plus orgId, title, state, message."""

    version: Str = "1"  # Grafana sends its own payload version ("1"), not Alertmanager's "4"
    orgId: int | None = None
    title: Str = ""
    state: Str = ""
    message: Str = ""
    alerts: Annotated[list[GrafanaAlert], Field(min_length=1, max_length=1000)]  # type: ignore[assignment]


def _summary(a: AmAlert) -> str:
    ann, lab = a.annotations, a.labels
    if ann.get("summary") or ann.get("title"):
        return ann.get("summary") or ann["title"]
    name, instance = lab.get("alertname", ""), lab.get("instance", "")
    if name and instance:
        return f"{name} on {instance}"
    return name or instance or a.fingerprint


def _links(a: AmAlert) -> dict[str, str]:
    urls = {"generator_url": a.generatorURL}
    if isinstance(a, GrafanaAlert):
        urls |= {"dashboard_url": a.dashboardURL, "panel_url": a.panelURL, "silence_url": a.silenceURL,
                 "image_url": a.imageURL}  # fmt: skip
    return {k: v for k, v in urls.items() if v}


def alert_signals(body: AlertmanagerNotification, *, source: str, ci_label: str, tenant_label: str) -> list[Signal]:
    """Each alert of the notification as a Signal: fingerprint is the dedup key; resolved resolves."""
    out = []
    for i, a in enumerate(body.alerts):
        description = a.annotations.get("description") or a.annotations.get("message")
        if not description and isinstance(body, GrafanaNotification) and len(body.alerts) == 1:
            description = body.message or None
        labels = clean_labels({**a.labels, **_links(a)})
        if isinstance(a, GrafanaAlert) and a.values:
            labels |= clean_labels({f"value.{k}": v for k, v in a.values.items()})
        out.append(
            Signal(
                source=source,
                dedup_key=a.fingerprint,
                status=a.status,
                severity=severity_of(a.labels.get("severity")),
                summary=_summary(a),
                description=description,
                ci=a.labels.get(ci_label),
                labels=labels,
                started_at=a.startsAt if a.startsAt.year > NEVER else None,
                tenant_hint=a.labels.get(tenant_label),
                tenant_field=f"alerts.{i}.labels.{tenant_label}",
            )
        )
    return out
