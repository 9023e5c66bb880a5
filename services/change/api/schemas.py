"""Request bodies of the change API (validated with pydantic; unknown fields are refused)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.config import Risk
from services.change.domain.changes import ChangeType

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=255)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangeCreate(Body):
    """POST /v1/changes. A standard change names its `template`, which supplies title and CIs."""

    tenant: Annotated[str, Field(min_length=1, max_length=40)]
    change_type: ChangeType
    ci: Name | None = None  # one affected CI (the foundation's field), or
    cis: Annotated[list[Name], Field(max_length=50)] | None = None  # several
    title: Name | None = None
    description: Annotated[str, Field(max_length=8192)] | None = None
    template: Name | None = None
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    implementer: Name | None = None
    rollback_plan: Annotated[str, Field(max_length=8192)] | None = None


class Comment(Body):
    """start, complete, review, close, cancel, and votes: an optional comment."""

    comment: Text | None = None


class Submit(Comment):
    """submit: a standard change is scheduled at once, so it may carry a conflict override."""

    override_reason: Text | None = None


class Start(Comment):
    """start: outside the approved window (see changes.early_start) only with a recorded reason."""

    override_reason: Text | None = None


class Assess(Comment):
    risk: Risk
    impact: Literal["low", "medium", "high"]


class Schedule(Submit):
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    implementer: Name | None = None


class Fail(Comment):
    rollback: Text  # what was rolled back, and how


class Clear(Body):
    reason: Text
