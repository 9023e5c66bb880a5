"""Escalation policies and notification targets (the escalation service reads these)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from libs.config.base import (
    Category,
    Duration,
    Priority,
    Strict,
)


class EscalationStep(Strict):
    tier: Annotated[int, Field(ge=1, le=3)]
    after: Duration
    group: str | None = None  # who at that tier, e.g. "dba-oncall" (shown in notifications)
    notify: list[str] = []  # names of the tenant's notification targets paged when the step starts


class CategoryPolicy(Strict):
    """A category's own escalation steps (e.g. security incidents page the SOC first)."""

    steps: Annotated[list[EscalationStep], Field(min_length=1)]
    repeat: Annotated[int, Field(ge=0, le=10)] = 0


class EscalationPolicy(Strict):
    steps: list[EscalationStep] = [EscalationStep(tier=1, after=timedelta(minutes=15))]
    # After the last step, run the steps again this many times (re-paging) while still unacknowledged.
    repeat: Annotated[int, Field(ge=0, le=10)] = 0
    categories: dict[Category, CategoryPolicy] = {}

    def for_category(self, category: str | None) -> tuple[str, list[EscalationStep], int]:
        """(policy name, steps, repeat) for an incident of this category."""
        own = self.categories.get(category) if category else None  # type: ignore[call-overload]
        if own is not None:
            return f"category:{category}", own.steps, own.repeat
        return "default", self.steps, self.repeat


Trigger = Literal["opened", "escalated", "sla_warning", "sla_breached", "resolved"]
TRIGGERS: tuple[Trigger, ...] = ("opened", "escalated", "sla_warning", "sla_breached", "resolved")


class NotificationTarget(Strict):
    """Where a tenant's notifications go: a signed webhook, a Slack-compatible incoming webhook, or e-mail."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    kind: Literal["webhook", "slack", "email"]
    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    # The HMAC key of a signed webhook: from an environment variable (preferred) or inline.
    secret_env: str | None = None
    secret: str | None = None
    to: list[str] = []  # e-mail recipients
    triggers: list[Trigger] | None = None  # None: the tenant's notifications.triggers

    @model_validator(mode="after")
    def _complete(self) -> NotificationTarget:
        if self.kind in ("webhook", "slack") and not self.url:
            raise ValueError(f"target {self.name!r}: a {self.kind} target needs a url")
        if self.kind == "webhook" and not (self.secret_env or self.secret):
            raise ValueError(f"target {self.name!r}: a webhook target needs secret_env (or secret) to sign with")
        if self.kind == "email" and not self.to:
            raise ValueError(f"target {self.name!r}: an email target needs `to` addresses")
        return self


class Notifications(Strict):
    triggers: list[Trigger] = list(TRIGGERS)
    opened_priorities: list[Priority] = ["P1", "P2"]  # `opened` notifies only at these priorities
    targets: list[NotificationTarget] = []


class Smtp(Strict):
    """The provider's mail relay for e-mail targets."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: str
    username: str | None = None
    password_env: str | None = None
    starttls: bool = False
    use_tls: bool = False
