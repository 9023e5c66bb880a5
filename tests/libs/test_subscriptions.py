"""The subscriber table's one dispatch order, pure: handlers in table order, each with its batch's messages of
its types in stream order, payloads parsed once into their contract classes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from libs.contracts import (
    ChangeEvent,
    ChangeWindowEnded,
    ChangeWindowStarted,
    IncidentAcknowledged,
    IncidentOpened,
    IncidentResolved,
    type_of,
)
from libs.events import Envelope
from libs.subscriptions import Dispatcher, event_types

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def env(kind: str, n: int, **data: object) -> Envelope:
    return Envelope(id=f"{kind}-{n}", source="t", type=f"tierline.{kind}", tenant="acme", correlationid="c", data=data)


def opened(n: int) -> Envelope:
    return env("incident.opened", n, incident_id=f"i{n}", number=f"ACME-{n}", title="t", priority="P1",
               impact="high", urgency="high", category=None, ci=None, tier=1, dedup_key=None, source="x",
               opened_at=AT.isoformat())  # fmt: skip


def ref(kind: str, n: int) -> Envelope:
    return env(kind, n, incident_id=f"i{n}", number=f"ACME-{n}", by="ann", at=AT.isoformat(), reason="manual")


def window(kind: str, n: int) -> Envelope:
    return env(kind, n, change_id="c", number="CHG-1", title="t", change_type="normal", cis=[],
               starts_at=AT.isoformat(), ends_at=AT.isoformat(), at=AT.isoformat())  # fmt: skip


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[str, list[str]]] = []

    def handler(self, name: str):  # type: ignore[no-untyped-def]
        async def handle(tx, messages, deps):  # type: ignore[no-untyped-def]
            assert deps == "config"
            self.log.append((name, [m.envelope.id for m in messages]))
            assert all(type(m.payload).TYPE == m.envelope.short_type for m in messages)

        return handle


async def test_handlers_run_in_table_order_with_their_messages_in_stream_order():
    calls = Calls()
    table = {
        (ChangeWindowStarted, ChangeWindowEnded): calls.handler("windows"),
        IncidentOpened: calls.handler("opened"),
        (IncidentAcknowledged, IncidentResolved): calls.handler("stops"),
    }
    batch = [opened(1), ref("incident.resolved", 1), window("change.window_ended", 1), opened(2),
             ref("incident.acknowledged", 2), window("change.window_started", 2)]  # fmt: skip
    await Dispatcher(table, lambda: "config")(None, batch)  # type: ignore[arg-type]
    assert calls.log == [
        ("windows", ["change.window_ended-1", "change.window_started-2"]),
        ("opened", ["incident.opened-1", "incident.opened-2"]),
        ("stops", ["incident.resolved-1", "incident.acknowledged-2"]),
    ]
    assert event_types(table) == [
        "change.window_started", "change.window_ended", "incident.opened", "incident.acknowledged",
        "incident.resolved",
    ]  # fmt: skip


async def test_a_handler_without_messages_is_not_called_and_a_broken_payload_raises():
    calls = Calls()
    dispatch = Dispatcher(
        {IncidentOpened: calls.handler("opened"), IncidentAcknowledged: calls.handler("ack")}, lambda: "config"
    )
    await dispatch(None, [ref("incident.acknowledged", 1)])  # type: ignore[arg-type]
    assert calls.log == [("ack", ["incident.acknowledged-1"])]
    with pytest.raises(ValidationError):  # the consumer retries it alone, then dead-letters it
        await dispatch(None, [env("incident.opened", 9, incident_id="i9")])  # type: ignore[arg-type]


def test_a_type_is_subscribed_once_and_shared_bases_are_no_type():
    with pytest.raises(ValueError, match="twice"):
        Dispatcher({IncidentOpened: Calls().handler("a"), (IncidentOpened,): Calls().handler("b")}, lambda: None)
    with pytest.raises(TypeError):
        type_of(ChangeEvent)


async def test_every_handler_of_a_batch_gets_the_deps_taken_once_for_it():
    """The configuration version is taken once per batch (libs/config/live.py): a swap between two handlers of
    one batch must not show half the batch the new version."""
    versions = iter(range(1, 100))
    seen: list[tuple[str, object]] = []

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(tx, messages, deps) -> None:  # type: ignore[no-untyped-def]
            seen.append((name, deps))

        return handle

    async def before(tx, envelopes, deps) -> None:  # type: ignore[no-untyped-def]
        seen.append(("before", deps))

    table = {IncidentOpened: handler("opened"), IncidentAcknowledged: handler("ack")}
    dispatch = Dispatcher(table, lambda: next(versions), before=before)
    await dispatch(None, [opened(1), ref("incident.acknowledged", 1)])  # type: ignore[arg-type]
    await dispatch(None, [ref("incident.acknowledged", 2)])  # type: ignore[arg-type]
    assert seen == [("before", 1), ("opened", 1), ("ack", 1), ("before", 2), ("ack", 2)]
