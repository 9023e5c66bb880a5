"""Intake's store is the stream. Intake keeps no tables: an alert is stored once JetStream has acknowledged
its publish, and only then does intake answer 202 (the promise every sender relies on). Every event of a
request is published with many acks in flight, under its content-derived id as `Nats-Msg-Id`, so a sender's
retry inside the duplicate window is stored once.
"""

from __future__ import annotations

from collections.abc import Sequence

from libs.bus import Bus
from libs.events import Envelope


class NotStored(Exception):
    """JetStream did not acknowledge every event (NATS away, a timeout): none may be answered as stored. Some
    may have been; the sender's retry carries the same ids, so the duplicate window completes it without doubles."""


async def store_events(bus: Bus, *, events: Sequence[Envelope]) -> None:
    """Publish `events` and wait until JetStream has stored every one; NotStored (with the cause) if it did not."""
    try:
        await bus.publish_many(events)
    except Exception as exc:  # whatever failed, the answer to the sender is the same: not stored, retry
        raise NotStored(repr(exc)) from exc
