"""A dead-lettered alert still reaches a human: every `alert.received` that a consumer gave up on (triage's own,
or reporting's copy of the same alert) opens one provider-visible incident in the alert's tenant, "Alert could
not be processed: <summary>", P2 at Tier 1, so SLA clocks and escalation page someone.

It takes a path that does not depend on what failed: no grouping, rules or routing, only fixed fields and
text scrubbed of what PostgreSQL refuses. Its inbox id is the original event's, so the two letters of one alert
(and the letters of its later replays) open one incident. If even this fails while PostgreSQL is healthy, the
consumer logs `consumer.message_dropped` at level critical (docs/operations.md: alert on it).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog
from nats.aio.msg import Msg

from libs.config import TierlineConfig
from libs.events import Envelope, utcnow
from libs.text import scrub
from services.triage import store
from services.triage.domain import Incident
from services.triage.events import incident_event, opened

log = structlog.get_logger()
DURABLE = "triage-deadletters"
TITLE = "Alert could not be processed: "


def subjects(prefix: str) -> list[str]:
    """Dead letters of alert.received from any consumer (libs.bus.dead_letter_subject)."""
    return [f"{prefix}_dlq.*.{prefix}.alert.received.*"]


def decode_letter(msg: Msg) -> Envelope:
    """The letter as an event of its own, keyed by the original event (its first one, for a replay)."""
    original = Envelope.decode(msg.data)
    headers = msg.headers or {}
    return Envelope(
        id=f"deadletter:{original.inbox_id}",
        source="tierline/deadletter",
        type="tierline.deadletter.alert_received",
        tenant=original.tenant,
        correlationid=original.correlationid,
        causationid=original.id,
        subject=original.subject,
        data={
            "alert": original.data,
            "event_id": original.inbox_id,
            "error": headers.get("Tierline-Error", ""),
            "consumer": headers.get("Tierline-Consumer", ""),
            "subject": headers.get("Tierline-Subject", ""),
        },
    )


def _text(value: Any, limit: int) -> str:
    text = scrub(str(value if value is not None else ""))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fallback_incident(env: Envelope) -> Incident:
    """Fixed fields only: P2 (high impact x medium urgency), Tier 1, no CI, category or dedup key to look up."""
    alert, now = env.data.get("alert") or {}, utcnow()
    summary = _text(alert.get("summary"), 900)
    description = "\n".join(
        [
            "Tierline could not process this alert; it reached you through the dead-letter fallback.",
            f"Summary: {summary}",
            f"Error: {_text(env.data.get('error'), 2000)}",
            f"Failed in: {_text(env.data.get('consumer'), 100)}, on {_text(env.data.get('subject'), 300)}",
            f"Alert id: {_text(alert.get('alert_id'), 100)}; event id: {_text(env.data.get('event_id'), 100)}",
            f"Source: {_text(alert.get('source'), 100)}; CI: {_text(alert.get('ci'), 300)}",
            "See GET /v1/deadletters; replay it with POST /v1/deadletters/{id}/replay once fixed.",
        ]
    )
    return Incident(
        id=str(uuid.uuid4()), tenant=env.tenant, title=TITLE + summary, state="new", priority="P2", impact="high",
        urgency="medium", category=None, ci=None, tier=1, dedup_key=None, source="deadletter", severity="error",
        occurrences=1, opened_at=now, last_seen=now, description=description, channel="alert", queue="tier-1",
        routing_rule="dead-letter fallback", is_new=True, dirty=True,
    )  # fmt: skip


def make_apply(config: TierlineConfig):  # type: ignore[no-untyped-def]
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        raised: list[Envelope] = []
        for env in envs:
            tenant = config.tenant(env.tenant)
            if tenant is None:  # nowhere to open it: the operator's log alerting is the last resort
                log.critical("deadletter.unknown_tenant", tenant=env.tenant, event_id=env.data.get("event_id"))
                continue
            incident = fallback_incident(env)
            first = (await store.allocate_numbers(conn, counts={tenant.id: 1}))[tenant.id]
            incident.number = f"{tenant.code}-{first}"
            detail = {
                "reason": "dead_lettered",
                "event_id": env.data.get("event_id"),
                "consumer": env.data.get("consumer"),
            }
            step = (incident.id, incident.opened_at, "opened", "deadletter", detail)
            await store.record_batch(conn, incidents=[incident], timeline=[step])
            raised.append(incident_event("incident.opened", incident, opened(incident, None), cause=env))
            log.error("deadletter.incident_opened", number=incident.number, event_id=env.data.get("event_id"))
        return raised

    return apply
