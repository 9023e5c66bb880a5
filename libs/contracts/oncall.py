"""Payloads of on-call (escalation owns schedules, overrides, pages and their links; docs/oncall.md)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from libs.contracts.base import Contract, IncidentRef


class ScheduleOverride(Contract):
    schedule: str
    override_id: str
    user: str
    start: datetime
    end: datetime
    by: str
    at: datetime


class ScheduleOverrideAdded(ScheduleOverride):
    """escalation -> the ledger: one person on call over every layer of a schedule for a time range."""

    TYPE: ClassVar[str] = "schedule.override_added"

    note: str | None = None


class ScheduleOverrideRemoved(ScheduleOverride):
    TYPE: ClassVar[str] = "schedule.override_removed"


class PageAnswered(IncidentRef):
    """escalation -> triage: a paged person used an acknowledge or resolve link; triage (which owns the
    incident) applies it as `by`, and escalation stops the policy when triage says it was acknowledged."""

    person: str
    by: str  # the user the action is taken as (the person's API user, else their name)
    via: Literal["link"] = "link"
    notification_id: str  # the page that carried the link
    method: str  # email, webhook, slack
    at: datetime


class PageAcknowledged(PageAnswered):
    TYPE: ClassVar[str] = "page.acknowledged"


class PageResolved(PageAnswered):
    TYPE: ClassVar[str] = "page.resolved"
