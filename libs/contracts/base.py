"""What every payload shares: the strict base model, the incident reference, the small vocabularies."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["critical", "error", "warning", "info"]
Clock = Literal["response", "resolution"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str] = ""  # the event type this class stands for (see libs/contracts/__init__.py)


class IncidentRef(Contract):
    incident_id: str
    number: str  # per-tenant, e.g. ACME-42


HoldReason = Literal["pending_customer", "pending_vendor"]
