"""A service's subscriber table: which events it consumes and the handler for each, declared once.

    SUBSCRIPTIONS: Subscriptions[TierlineConfig] = {
        ChangeWindowStarted: on_window_started,
        AlertReceived: on_alerts_received,
        (IncidentAcknowledged, IncidentResolved): on_incident_stops,   # one handler, both in stream order
    }

The runtime derives the consumer's subject filters from the table, parses every payload once against its
contract, and dispatches a fetched batch in ONE documented order:

- handlers run in the order of the table;
- each is called once per batch, with every message of the type(s) it is registered for, in stream order.

So a handler is written for a batch (one statement per table, not one per message), a service puts first
what later handlers must see (triage's change windows before its alerts), and types whose relative order
matters share one entry. A handler takes (tx, messages, deps): the unit of work to write and emit in, the
typed messages, and the service's own dependencies (its config). It emits what it raises with tx.emit. The
dispatcher is given a function that returns the deps and calls it once per batch: every handler of a batch sees the
same configuration version, and the next batch the version then in force (libs/config/live.py).

A table may have a `before` step, which sees the whole batch before any handler runs (change locks every
(tenant, CI) the batch names there, in one order, so replicas meet instead of deadlocking).

A "sink" (reporting's ledger) takes every envelope under the prefix as it came, unparsed. A service that reads
some types by field rather than by contract (triage's copy of escalation's clock news) declares its own lenient
class with `VIEW_OF = (types...)` and keys the table with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from libs.contracts import REGISTRY, Contract, type_of
from libs.events import Envelope
from libs.uow import Tx

P = TypeVar("P", bound=Contract)
D = TypeVar("D")


@dataclass(frozen=True)
class Message(Generic[P]):
    """One consumed event: its envelope (tenant, ids, time, cause) and its payload, parsed once."""

    envelope: Envelope
    payload: P

    @property
    def tenant(self) -> str:
        return self.envelope.tenant


Handler = Callable[[Tx, list[Message[Any]], D], Awaitable[None]]
Key = type[Contract] | tuple[type[Contract], ...]
Subscriptions = Mapping[Key, Handler[D]]
Sink = Callable[[Tx, list[Envelope], D], Awaitable[None]]
Before = Sink  # a step that sees the whole batch before any handler (change's locks on every CI it names)


def as_message(envelope: Envelope) -> Message[Any]:
    """One envelope parsed against its registered contract (what the dispatcher hands a handler)."""
    return Message(envelope, REGISTRY[envelope.short_type].model_validate(envelope.data))


def _types(key: Key) -> list[tuple[str, type[Contract]]]:
    """(event type, the class its payload is parsed into) for a table key. A class with `VIEW_OF` is a service's
    own lenient reading of several types (triage reads escalation's clock news by field)."""
    out = []
    for cls in key if isinstance(key, tuple) else (key,):
        view: tuple[str, ...] = getattr(cls, "VIEW_OF", ())
        out += [(name, cls) for name in view] if view else [(type_of(cls), cls)]
    return out


def event_types(subscriptions: Subscriptions[Any]) -> list[str]:
    """The short event types a table consumes (`alert.received`, ...), in table order: the subject filters."""
    return [name for key in subscriptions for name, _ in _types(key)]


class Dispatcher(Generic[D]):
    """Runs a fetched batch through a subscriber table (see the module docstring for the order)."""

    def __init__(
        self, subscriptions: Subscriptions[D], deps: Callable[[], D], *, before: Before[D] | None = None
    ) -> None:
        self.deps, self.before = deps, before
        self.handlers = list(subscriptions.values())
        self.slot: dict[str, tuple[int, type[Contract]]] = {}
        for i, key in enumerate(subscriptions):
            for name, cls in _types(key):
                if name in self.slot:
                    raise ValueError(f"{name} is subscribed twice")
                self.slot[name] = (i, cls)

    async def __call__(self, tx: Tx, envelopes: list[Envelope]) -> None:
        deps = self.deps()  # once per batch: one configuration version for all of it
        if self.before is not None:
            await self.before(tx, envelopes, deps)
        batches: list[list[Message[Any]]] = [[] for _ in self.handlers]
        for env in envelopes:
            found = self.slot.get(env.short_type)
            if found is None:  # the subject filters keep these out; a stray one is not ours to judge
                continue
            i, cls = found
            batches[i].append(Message(env, cls.model_validate(env.data)))
        for handler, messages in zip(self.handlers, batches, strict=True):
            if messages:
                await handler(tx, messages, deps)
