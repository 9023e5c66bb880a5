"""The incident: its fields, its one factory, the ITIL impact x urgency matrix, its lifecycle, and the refusal
clients see when a rule says no. Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from libs.config import Contract, Tenant
from libs.lifecycle import Lifecycle

Level = Literal["high", "medium", "low"]

# ITIL impact x urgency -> priority; rows are impact, columns urgency (high, medium, low).
PRIORITY_MATRIX: dict[Level, dict[Level, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P5"},
}
IMPACT_BY_CRITICALITY: dict[str, Level] = {
    "critical": "high",
    "high": "high",
    "medium": "medium",
    "low": "low",
}
URGENCY_BY_SEVERITY: dict[str, Level] = {
    "critical": "high",
    "error": "medium",
    "warning": "low",
    "info": "low",
}

OPEN_STATES = ("new", "acknowledged", "in_progress", "on_hold")
DONE_STATES = ("resolved", "closed")
STATES = (*OPEN_STATES, *DONE_STATES)
# new -> acknowledged -> in progress -> on hold -> resolved -> closed, with reopen. Closed is final: a fault
# that comes back after closing is a new incident. Reopen lands in in_progress (new if never acknowledged).
LIFECYCLE = Lifecycle(
    "an incident",
    {
        "new": {"acknowledge": "acknowledged", "start": "in_progress", "resolve": "resolved"},
        "acknowledged": {"start": "in_progress", "hold": "on_hold", "resolve": "resolved"},
        "in_progress": {"hold": "on_hold", "resolve": "resolved"},
        "on_hold": {"resume": "in_progress", "resolve": "resolved"},
        "resolved": {"close": "closed", "reopen": "in_progress"},
        "closed": {},
    },
)
transition = LIFECYCLE.next


class IncidentRefused(Exception):
    """A rule said no; `code` is the machine-readable reason, `status` the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.details = status, code, details or []


def matrix(contract: Contract) -> dict[Level, dict[Level, str]]:
    """The contract's impact x urgency matrix, or ITIL's."""
    return contract.priority_matrix or PRIORITY_MATRIX  # type: ignore[return-value]


def priority(impact: Level, urgency: Level, contract: Contract | None = None) -> str:
    return (matrix(contract) if contract else PRIORITY_MATRIX)[impact][urgency]


def assess(tenant: Tenant, ci: str | None, severity: str, at: datetime) -> tuple[Level, Level, str, str | None]:
    """(impact, urgency, priority, category): impact from the CI's criticality, urgency from severity, by the
    contract in force at `at` (when the alert arrived).

    An alert for a CI the tenant has not declared still opens an incident, at medium impact.
    """
    contract = tenant.contract_at(at)
    item = tenant.ci_index.get(ci) if ci else None
    by_criticality = contract.impact_by_criticality or IMPACT_BY_CRITICALITY
    impact: Level = by_criticality[item.criticality] if item else "medium"
    urgency = URGENCY_BY_SEVERITY.get(severity, "medium")
    return impact, urgency, priority(impact, urgency, contract), item.category if item else None


@dataclass
class Incident:
    id: str
    tenant: str
    title: str
    state: str
    priority: str
    impact: str
    urgency: str
    category: str | None
    ci: str | None
    tier: int
    dedup_key: str | None
    source: str
    severity: str
    occurrences: int
    opened_at: datetime
    last_seen: datetime
    number: str = ""  # assigned when the batch commits (per-tenant counter)
    detected_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    assignee: str | None = None
    type: str = "incident"
    description: str | None = None
    channel: str = "alert"
    queue: str = "tier-1"
    routing_rule: str | None = None
    severity_trend: str = "steady"
    open_alerts: int = 0
    flapping: bool = False
    reopen_count: int = 0
    hold_reason: str | None = None
    resolution_code: str | None = None
    first_contact: bool | None = None
    closed_at: datetime | None = None
    parent_id: str | None = None
    changes: list[str] = field(default_factory=list)
    seq: int = 0  # the number's numeric part (ACME-42: 42), the list's tiebreak
    at_risk: bool = False  # read-only here: set from escalation's events
    breached: bool = False
    sla: dict[str, dict[str, Any]] = field(default_factory=dict)  # escalation's clocks as triage last heard
    due_at: datetime | None = None  # the deadline that matters now (services/triage/sla.py)
    is_new: bool = False
    dirty: bool = field(default=False, compare=False)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def available_actions(i: Incident) -> list[str]:
    """Every `POST /v1/incidents/{ref}/<action>` that may succeed from the incident's state now: its lifecycle
    moves, notes always, assign and priority while open, escalate while open below Tier 3."""
    work = ["assign", "priority", *(["escalate"] if i.tier < 3 else [])] if i.is_open else []
    return sorted([*LIFECYCLE.allowed(i.state), *work, "notes"])


def new_incident(
    tenant: str,
    *,
    title: str,
    at: datetime,
    impact: str,
    urgency: str,
    priority: str,
    source: str,
    severity: str,
    category: str | None = None,
    ci: str | None = None,
    tier: int = 1,
    queue: str = "tier-1",
    routing_rule: str | None = None,
    **more: Any,
) -> Incident:
    """The one way an incident comes to be (from an alert, by hand, or from a dead-lettered alert): new, open,
    numbered when its transaction commits. `more`: the remaining Incident fields the caller knows."""
    return Incident(
        id=str(uuid.uuid4()), tenant=tenant, title=title, state="new", priority=priority, impact=impact,
        urgency=urgency, category=category, ci=ci, tier=tier, queue=queue, routing_rule=routing_rule,
        dedup_key=more.pop("dedup_key", None), source=source, severity=severity,
        occurrences=more.pop("occurrences", 1), opened_at=at, last_seen=at, is_new=True, dirty=True, **more,
    )  # fmt: skip
