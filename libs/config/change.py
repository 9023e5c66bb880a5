"""Change management: CAB boards and rules, standard-change templates, freezes (the change service)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated

from pydantic import (
    Field,
    model_validator,
)

from libs.config.base import (
    Category,
    Duration,
    Risk,
    Strict,
)


class CabRule(Strict):
    """A board for changes on CIs of `category` and/or assessed at `risk` (unset matches any)."""

    category: Category | None = None
    risk: Risk | None = None
    members: list[str] | None = None  # None: the tenant's CAB members
    quorum: Annotated[int, Field(ge=1)]
    emergency_quorum: Annotated[int, Field(ge=1)] | None = None  # None: the tenant's emergency_quorum


class Cab(Strict):
    members: list[str] = []
    quorum: Annotated[int, Field(ge=1)] = 1
    emergency_quorum: Annotated[int, Field(ge=1)] = 1
    rules: list[CabRule] = []
    # A normal change also needs an approval from one of the tenant's own `client_approver` users.
    client_approval: bool = False
    # Rejections that reject a change (1: any rejection rejects).
    rejections: Annotated[int, Field(ge=1)] = 1


class ChangeTemplate(Strict):
    """A pre-approved standard change: created from here, scheduled on submit without a CAB vote."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    title: Annotated[str, Field(min_length=1, max_length=255)]
    cis: list[str] = Field(min_length=1)  # the CIs it may be applied to
    description: str | None = None
    max_duration: Duration | None = None


class FreezeWindow(Strict):
    """A blackout (e.g. year-end): normal and standard changes may not be scheduled into it."""

    name: str
    start: datetime
    end: datetime
    cis: list[str] = []  # empty: every CI of the tenant

    @model_validator(mode="after")
    def _order(self) -> FreezeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("freeze start and end need a UTC offset, e.g. 2026-12-20T00:00:00Z")
        if self.start >= self.end:
            raise ValueError("freeze start must be before end")
        return self


class ChangePolicy(Strict):
    templates: list[ChangeTemplate] = []
    freezes: list[FreezeWindow] = []
    # An incident opened on a changed CI this long after the change's implementation ended is linked to it.
    incident_link_window: Duration = timedelta(hours=24)
    # Implementation may start this long before the approved window; earlier, or after the window has
    # ended, `start` is refused (409 outside_window) unless it carries an override_reason, recorded.
    early_start: Duration = timedelta(hours=1)

    @cached_property
    def template_index(self) -> dict[str, ChangeTemplate]:
        return {t.id: t for t in self.templates}
