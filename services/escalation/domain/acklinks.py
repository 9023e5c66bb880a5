"""Acknowledge and resolve links (pure): a random single-use token per page, person and action, bound to one
incident, expiring; only its SHA-256 is stored, so a copy of the table opens nothing. What a use of one may
do, and the feed tokens of the iCalendar URLs (an HMAC of the schedule, so they survive restarts)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Action = Literal["acknowledge", "resolve"]
ACTIONS: tuple[Action, ...] = ("acknowledge", "resolve")
LinkState = Literal["valid", "unknown", "used", "expired"]


def new_token() -> str:
    """256 random bits, URL-safe: unguessable, and nothing about the incident or person in it."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AckLink:
    """One link as stored (its token's hash, never the token)."""

    token_sha256: str
    tenant: str
    incident_id: str
    number: str
    person: str
    acts_as: str
    action: Action
    notification_id: str
    method: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def issue(
        cls, token: str, *, at: datetime, valid_for: timedelta, incident_id: str, tenant: str, number: str,
        person: str, acts_as: str, action: Action, notification_id: str, method: str,
    ) -> AckLink:  # fmt: skip
        return cls(token_sha256=token_hash(token), tenant=tenant, incident_id=incident_id, number=number,
                   person=person, acts_as=acts_as, action=action, notification_id=notification_id, method=method,
                   created_at=at, expires_at=at + valid_for)  # fmt: skip


def link_state(link: AckLink | None, at: datetime) -> LinkState:
    """What a use of a link at `at` finds: one never issued (or pruned), one used already, one expired."""
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if at >= link.expires_at:
        return "expired"
    return "valid"


def feed_token(key: str, schedule: str, rotation: int, user: str | None = None) -> str:
    """The secret in a schedule's (or one user's) iCalendar URL: an HMAC of what the feed shows, keyed with
    the on-call secret. Bumping the schedule's `feed_rotation`, or the key, changes it."""
    message = f"ics\n{schedule}\n{rotation}\n{user or ''}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def feed_token_ok(given: str, key: str, schedule: str, rotation: int, user: str | None = None) -> bool:
    return hmac.compare_digest(given.encode(), feed_token(key, schedule, rotation, user).encode())
