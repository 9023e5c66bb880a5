"""The typed rows change's store takes and gives beyond the domain's own types (ChangeRequest, IncidentLink,
UnmanagedChange, OpenedIncident): probes, timeline entries, due window edges, and the calendar's view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict

from services.change.domain.changes import ChangeRequest
from services.change.domain.unmanaged import OpenedIncident, UnmanagedChange


@dataclass(frozen=True)
class Probe:
    """A new incident to match with the changes on its CI: those at work when it opened, or ended (managed) or
    reported (unmanaged) no more than `window` before."""

    incident: OpenedIncident
    window: timedelta  # the tenant's incident_link_window


def probe_columns(probes: Sequence[Probe]) -> list[list[Any]]:
    """The probes as the arrays of `unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[])`: tenant,
    CI, opened_at and the link window in seconds."""
    return [
        [p.incident.tenant for p in probes],
        [p.incident.ci for p in probes],
        [p.incident.opened_at for p in probes],
        [p.window.total_seconds() for p in probes],
    ]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    from_state: str | None
    to_state: str
    actor: str
    comment: str | None


@dataclass(frozen=True)
class DueEdge:
    """A window edge (start or end) that fell due, claimed with its change until the claim commits."""

    edge: str
    change: ChangeRequest
    fired_at: datetime


class LinkedIncident(TypedDict):
    """An incident linked to an unmanaged change, as the calendar lists it (PostgreSQL writes its JSON)."""

    incident_id: str
    incident_number: str
    priority: str
    opened_at: str


@dataclass(frozen=True)
class UnmanagedOnCalendar(UnmanagedChange):
    """An unmanaged change on the calendar, with the incidents that followed it."""

    incidents: list[LinkedIncident]
