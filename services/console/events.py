"""The live messages the console sends a browser tab: which incidents or changes moved, by id and event type.

Never a title, alert text or note: the tab fetches the rendered row from the console, which reads it through
the API with that user's own token, so what a message may carry needs no wall of its own.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

AREAS = {"incident": "incident", "sla": "incident", "escalation": "incident", "change": "change"}


class LiveItem(BaseModel):
    kind: str  # incident | change
    type: str  # the bus event type, e.g. incident.opened, sla.breached, change.vote_cast
    id: str  # the incident's or change's id
    number: str | None = None  # ACME-42, ACME-CHG-7 when the event carries it


class LiveUpdate(BaseModel):
    """One SSE `update` event: what moved since the last one, or `resync` (too much: reload the list)."""

    items: list[LiveItem] = []
    resync: bool = False


def live_item(subject: str, raw: bytes, prefix: str) -> tuple[str, LiveItem] | None:
    """(tenant, item) for a bus message `<prefix>.<area>.<event>.<tenant>`, None for what no page shows."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != prefix or parts[1] not in AREAS:
        return None
    kind = AREAS[parts[1]]
    try:
        env = json.loads(raw)
        data = env.get("data") or {}
        ident = data.get(f"{kind}_id") or env.get("subject")
    except (ValueError, AttributeError):
        return None
    if not isinstance(ident, str) or parts[2] in ("unmanaged_recorded",):
        return None
    number = data.get("number") if kind == "incident" else data.get("number") or data.get("change_number")
    return parts[3], LiveItem(kind=kind, type=f"{parts[1]}.{parts[2]}", id=ident, number=number)
