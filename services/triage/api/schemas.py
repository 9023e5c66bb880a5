"""The bodies triage's API takes (pydantic; unknown fields are refused), and reading one from a request."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.config import Category, Level, Priority
from libs.contracts import HoldReason, Severity
from services.triage.domain import actions

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Body):
    pass


class IncidentCreate(Body):
    tenant: str
    type: Literal["incident", "request"] = "incident"
    title: Annotated[str, Field(min_length=1, max_length=1024)]
    description: Annotated[str, Field(max_length=20000)] | None = None
    channel: Literal["phone", "email", "portal", "chat", "walk_in"] = "phone"
    ci: str | None = None
    severity: Severity | None = None
    impact: Level | None = None
    urgency: Level | None = None
    category: Category | None = None
    labels: dict[str, str] = {}


class Assign(Body):
    assignee: str | None


class Reason(Body):
    reason: Text


class Hold(Body):
    reason: HoldReason
    comment: Text | None = None


class Resolve(Body):
    resolution_code: Literal[actions.RESOLUTION_CODES] = "solved"  # type: ignore[valid-type]
    first_contact: bool = False
    note: Text | None = None


class SetPriority(Body):
    priority: Priority
    reason: Text


class Note(Body):
    text: Annotated[str, Field(min_length=1, max_length=20000)]
    internal: bool = True  # a work note; false: a comment the client's own tokens see too
