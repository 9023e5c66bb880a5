"""An event as the SLA event ledger records it: checked against its contract, keyed for a replay (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from libs.contracts import REGISTRY
from libs.events import Envelope


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    event_id: str  # a replayed dead letter's original id: it is recorded once, whichever copy came first
    tenant: str
    type: str  # the short type: incident.opened
    subject: str | None
    occurred_at: datetime
    correlation_id: str | None
    data: dict[str, Any]  # the payload as it came (JSON already, times in ISO 8601 as every publisher writes)


def ledger_entry(env: Envelope) -> LedgerEntry:
    """The ledger entry of one event; raises if a registered event breaks its contract.

    Raising sends the event through the consumer's retry-alone path to the dead-letter stream (with the
    validation error), so the report queries can cast every payload field they read.
    """
    contract = REGISTRY.get(env.short_type)
    if contract is not None:
        contract.model_validate(env.data)  # raises on a broken payload; what is stored is the payload as it came
    return LedgerEntry(
        event_id=env.inbox_id,
        tenant=env.tenant,
        type=env.short_type,
        subject=env.subject,
        occurred_at=env.time if env.time.tzinfo else env.time.replace(tzinfo=UTC),
        correlation_id=env.correlationid,
        data=env.data,
    )
