"""The generic JSON alert (POST /v1/webhooks/generic): anything that can send JSON, and how it maps (pure)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from libs.contracts import Severity
from services.intake.domain.alert import Signal, UtcDatetime

Text = Annotated[str, Field(min_length=1, max_length=1024)]


class GenericAlert(BaseModel):
    """POST /v1/webhooks/generic: anything that can send JSON (RMM tools, scripts, curl)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    summary: Text
    source: Annotated[str, Field(min_length=1, max_length=255)] = "generic"
    severity: Severity = "error"
    status: Literal["firing", "resolved"] = "firing"
    dedup_key: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    ci: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, validation_alias=AliasChoices("service", "ci"), description="the tenant's service/CI id"
    )
    description: Annotated[str, Field(max_length=8192)] | None = None
    labels: dict[str, Annotated[str, Field(max_length=1024)]] = Field(default_factory=dict, max_length=64)
    started_at: UtcDatetime | None = None


def dedup_key_for(alert: GenericAlert) -> str:
    """Without an explicit key, the same source+CI+summary is the same problem (so repeats deduplicate)."""
    if alert.dedup_key:
        return alert.dedup_key
    basis = "\x1f".join([alert.source, alert.ci or "", alert.summary])
    return "gen-" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def generic_signals(alert: GenericAlert, *, ci_label: str, tenant_label: str) -> list[Signal]:
    return [
        Signal(
            source=alert.source,
            dedup_key=dedup_key_for(alert),
            status=alert.status,
            severity=alert.severity,
            summary=alert.summary,
            description=alert.description,
            ci=alert.ci or alert.labels.get(ci_label),
            labels=alert.labels,
            started_at=alert.started_at,
            tenant_hint=alert.labels.get(tenant_label),
            tenant_field=f"labels.{tenant_label}",
        )
    ]
