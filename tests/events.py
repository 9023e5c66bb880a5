"""Hand-built envelopes for tests of the services that consume incident events (escalation, reporting):
each event's envelope time equals its payload's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from libs.contracts import (
    AlertReceived,
    ChangeEvent,
    IncidentAcknowledged,
    IncidentOpened,
    IncidentResolved,
    SlaBreached,
    SlaClockStopped,
)
from libs.events import Envelope, raise_event


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def event(kind: str, payload: BaseModel, at: datetime, tenant: str = "acme", subject: str | None = None) -> Envelope:
    env = raise_event(kind, payload, source="test", tenant=tenant, subject=subject)
    return env.model_copy(update={"time": at})


class Incident:
    """The events of one incident, by the names the report definitions use."""

    def __init__(
        self, iid: str, priority: str, opened_at: datetime, tenant: str = "acme", number: str | None = None
    ) -> None:
        self.ref = {"incident_id": iid, "number": number or iid.upper()}
        self.priority, self.opened_at, self.tenant = priority, opened_at, tenant

    def _event(self, kind: str, payload: BaseModel, at: datetime) -> Envelope:
        return event(kind, payload, at, self.tenant, subject=self.ref["incident_id"])

    def opened(self) -> Envelope:
        payload = IncidentOpened(
            **self.ref,
            title="ERP DB down",
            priority=self.priority,
            impact="high",
            urgency="high",
            category="infrastructure",
            ci="erp-db",
            tier=1,
            dedup_key="erp",
            source="generic",
            opened_at=self.opened_at,
        )
        return self._event("incident.opened", payload, self.opened_at)

    def acknowledged(self, after_s: float) -> Envelope:
        at = self.opened_at + timedelta(seconds=after_s)
        return self._event("incident.acknowledged", IncidentAcknowledged(**self.ref, by="eve", at=at), at)

    def resolved(self, after_s: float) -> Envelope:
        at = self.opened_at + timedelta(seconds=after_s)
        payload = IncidentResolved(**self.ref, by="eve", at=at, reason="manual")
        return self._event("incident.resolved", payload, at)

    def clock_stopped(self, clock: str, after_s: float, *, met: bool) -> Envelope:
        at = self.opened_at + timedelta(seconds=after_s)
        payload = SlaClockStopped(**self.ref, clock=clock, stopped_at=at, elapsed_s=after_s, met=met)  # type: ignore[arg-type]
        return self._event("sla.clock_stopped", payload, at)

    def breached(self, clock: str, after_s: float) -> Envelope:
        at = self.opened_at + timedelta(seconds=after_s)
        payload = SlaBreached(
            **self.ref,
            clock=clock,
            priority=self.priority,
            due_at=at,
            breached_at=at,  # type: ignore[arg-type]
            late=False,
            tier=1,
        )
        return self._event("sla.breached", payload, at)


def change(kind: str, at: datetime, tenant: str = "acme", change_id: str = "chg-1") -> Envelope:
    state = kind.removeprefix("change.")
    payload = ChangeEvent(
        change_id=change_id,
        number=change_id.upper(),
        change_type="normal",
        ci="erp-db",
        title="Patch ERP",
        state=state,
        from_state="assessment",
        by="alice",
        at=at,
    )
    return event(kind, payload, at, tenant, subject=change_id)


def alert(at: datetime, tenant: str = "acme") -> Envelope:
    payload = AlertReceived(
        alert_id=f"al-{at.timestamp()}",
        source="generic",
        integration="prometheus",
        dedup_key="erp",
        status="firing",
        severity="critical",
        summary="ERP DB down",
        received_at=at,
    )
    return event("alert.received", payload, at, tenant)
