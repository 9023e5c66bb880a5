"""What every payload shares: the strict base model, the incident reference, the small vocabularies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["critical", "error", "warning", "info"]
Clock = Literal["response", "resolution"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class IncidentRef(Contract):
    incident_id: str
    number: str  # per-tenant, e.g. ACME-42


HoldReason = Literal["pending_customer", "pending_vendor"]
