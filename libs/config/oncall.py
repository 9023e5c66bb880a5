"""On-call: the people who are paged and their contact methods, and the schedules that say who is on duty
(layers of rotations with restrictions, PagerDuty's model; the maths is escalation's, docs/oncall.md).

Provider people and schedules serve every tenant; a tenant may have its own (named engineers, client
contacts). An escalation step pages `schedule:<id>` (whoever is on call then) or `user:<name>` besides the
tenant's notification targets."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from libs.config.base import Duration, OptionalDuration, Strict, Weekday
from libs.config.contract import Coverage

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
# A schedule id is a path segment (`/v1/schedules/noc.ics`): no dots.
ScheduleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
WEEK: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ContactMethod(Strict):
    """One way to reach a person, tried `delay` after the page starts unless the incident is acknowledged by
    then: e-mail (the provider's SMTP relay), a signed webhook (an SMS or voice gateway), a Slack-compatible
    incoming webhook."""

    kind: Literal["email", "webhook", "slack"]
    to: str | None = None  # e-mail address
    url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    secret_env: str | None = None  # a webhook's HMAC key: from an environment variable (preferred) or inline
    secret: str | None = None
    delay: OptionalDuration = timedelta(0)

    @model_validator(mode="after")
    def _complete(self) -> ContactMethod:
        if self.kind == "email" and not self.to:
            raise ValueError("an email contact method needs `to`")
        if self.kind in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.kind} contact method needs a url")
        if self.kind == "webhook" and not (self.secret_env or self.secret):
            raise ValueError("a webhook contact method needs secret_env (or secret) to sign with")
        return self


class Person(Strict):
    """Someone who can be on call. `user` names their API token's user, whose name an acknowledgement from a
    page link acts under; without one it acts under the person's name."""

    name: Name
    user: str | None = None
    contact_methods: list[ContactMethod] = []

    @property
    def acts_as(self) -> str:
        return self.user or self.name


class Restriction(Strict):
    """When a layer has anyone: from `start` to `end` local time on each of `days`. An `end` at or before
    `start` runs past midnight into the next day (nights: 18:00-08:00); `start == end` is the whole day."""

    days: list[Weekday] = WEEK
    start: time
    end: time


class Rotation(Strict):
    length: Duration  # 12h, 1d, 1w, 3d...: the turn of each user, in the schedule's wall-clock time


class Layer(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    users: Annotated[list[str], Field(min_length=1)]
    rotation: Rotation
    start: datetime  # local date-time: the first user's turn starts here; fixes the handoff time and weekday
    restrictions: list[Restriction] = []

    @field_validator("start")
    @classmethod
    def _local(cls, v: datetime) -> datetime:
        if v.tzinfo is not None:
            raise ValueError("a layer's start is a local date-time without an offset (the schedule's timezone applies)")
        return v


class Schedule(Strict):
    id: ScheduleId
    name: str
    timezone: str = "UTC"
    layers: Annotated[list[Layer], Field(min_length=1)]  # a later layer wins wherever it has someone
    fallback: str | None = None  # paged when a step pages this schedule and nobody is on call
    feed_rotation: Annotated[int, Field(ge=0)] = 0  # bump to change (rotate) this schedule's feed URLs

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return Coverage._known_zone(v)

    @model_validator(mode="after")
    def _unique_layers(self) -> Schedule:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError(f"schedule {self.id!r}: layer names must be unique")
        return self

    @property
    def users(self) -> set[str]:
        return {u for layer in self.layers for u in layer.users} | ({self.fallback} if self.fallback else set())


StepTargetKind = Literal["schedule", "user", "target"]


def step_target(name: str) -> tuple[StepTargetKind, str]:
    """What an escalation step's `notify` entry names: `schedule:<id>`, `user:<name>`, or a notification target."""
    for kind in ("schedule", "user"):
        if name.startswith(f"{kind}:"):
            return kind, name.split(":", 1)[1]  # type: ignore[return-value]
    return "target", name
