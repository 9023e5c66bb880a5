"""The event envelope (CloudEvents 1.0 attributes plus tenant/correlation/causation) and its registry."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_ids = random.Random()  # seeded from os.urandom once per process


def new_id() -> str:
    """128 random bits as hex. Event ids need uniqueness, not secrecy: uuid4's urandom syscall per id
    cost 6-9 % of every service's CPU in the pipeline benchmark."""
    return f"{_ids.getrandbits(128):032x}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One event on the bus. `id` doubles as the JetStream Nats-Msg-Id, so republishing is harmless."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_id)
    source: str
    type: str  # e.g. "tierline.incident.opened"
    time: datetime = Field(default_factory=utcnow)
    subject: str | None = None  # the incident / change / alert the event is about
    datacontenttype: Literal["application/json"] = "application/json"
    tenant: str
    correlationid: str
    causationid: str | None = None
    # Set on a dead letter re-published after a fix (a new id, so JetStream's duplicate window keeps it): the
    # id of the event it replays. Consumers mark that id in their inbox, so one that applied the original
    # skips the replay and only the one that failed applies it (see `inbox_id`).
    replayof: str | None = None
    data: dict[str, Any]

    @property
    def inbox_id(self) -> str:
        """The id a consumer records as applied: the original's, for a replay."""
        return self.replayof or self.id

    @property
    def short_type(self) -> str:
        """`incident.opened` for `tierline.incident.opened`: the part used in subjects and handler tables."""
        return self.type.removeprefix("tierline.")

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


def raise_event(
    short_type: str,
    payload: BaseModel,
    *,
    source: str,
    tenant: str,
    subject: str | None = None,
    cause: Envelope | None = None,
    correlation_id: str | None = None,
    event_id: str | None = None,
) -> Envelope:
    """Build the envelope for an event caused by `cause` (it inherits the correlation id).

    `event_id` is for events whose identity comes from their content (intake: a sender's retry of the
    same alert gets the same id, so JetStream's duplicate window stores it once); otherwise a fresh id.
    """
    eid = event_id or new_id()
    # Every field here is already valid (ids we made, a validated payload): skip re-validation on the hot path.
    return Envelope.model_construct(
        specversion="1.0",
        time=utcnow(),
        datacontenttype="application/json",
        id=eid,
        source=f"tierline/{source}",
        type=f"tierline.{short_type}",
        subject=subject,
        tenant=tenant,
        correlationid=cause.correlationid if cause else (correlation_id or eid),
        causationid=cause.id if cause else None,
        data=payload.model_dump(mode="json"),
    )


def event_for(payload: BaseModel, **envelope: Any) -> Envelope:
    """raise_event for a payload whose class names its event type (libs.contracts: `TYPE`); `envelope` as there."""
    kind = getattr(type(payload), "TYPE", "")
    if not kind:
        raise TypeError(f"{type(payload).__name__} names no event type")
    return raise_event(kind, payload, **envelope)
