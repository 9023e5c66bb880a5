"""A dead-lettered alert still reaches a human (pure part): the incident it opens.

Every `alert.received` that a consumer gave up on (triage's own, or reporting's copy of the same alert) opens
one incident in the alert's tenant, "Alert could not be processed: <summary>", P2 at Tier 1, so SLA clocks and
escalation page someone. It takes a path that does not depend on what failed: no grouping, rules or routing,
only fixed fields and text scrubbed of what PostgreSQL refuses (handlers.on_alerts_dead_lettered writes it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from libs.contracts import Contract
from libs.text import scrub
from services.triage.domain.incident import Incident, new_incident

TITLE = "Alert could not be processed: "


class AlertDeadLettered(Contract):
    """A dead letter of alert.received, as libs.deadletters.letter_event presents it (never on the bus)."""

    TYPE: ClassVar[str] = "deadletter.alert_received"

    payload: dict[str, Any]  # the alert as it came
    event_id: str
    error: str = ""
    consumer: str = ""
    subject: str = ""


def _text(value: Any, limit: int) -> str:
    text = scrub(str(value if value is not None else ""))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fallback_incident(tenant: str, letter: AlertDeadLettered, *, at: datetime) -> Incident:
    """Fixed fields only: P2 (high impact x medium urgency), Tier 1, no CI, category or dedup key to look up."""
    alert = letter.payload
    summary = _text(alert.get("summary"), 900)
    description = "\n".join(
        [
            "Tierline could not process this alert; it reached you through the dead-letter fallback.",
            f"Summary: {summary}",
            f"Error: {_text(letter.error, 2000)}",
            f"Failed in: {_text(letter.consumer, 100)}, on {_text(letter.subject, 300)}",
            f"Alert id: {_text(alert.get('alert_id'), 100)}; event id: {_text(letter.event_id, 100)}",
            f"Source: {_text(alert.get('source'), 100)}; CI: {_text(alert.get('ci'), 300)}",
            "See GET /v1/deadletters; replay it with POST /v1/deadletters/{id}/replay once fixed.",
        ]
    )
    return new_incident(
        tenant, title=TITLE + summary, at=at, impact="high", urgency="medium", priority="P2", source="deadletter",
        severity="error", routing_rule="dead-letter fallback", description=description,
    )  # fmt: skip
