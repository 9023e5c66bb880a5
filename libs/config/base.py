"""Shared pieces of the configuration models: strict models, durations, secrets, the domain's vocabulary."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

Priority = Literal["P1", "P2", "P3", "P4", "P5"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4", "P5")
Category = Literal["infrastructure", "network", "security", "cloud", "end-user", "data", "compliance"]
Criticality = Literal["critical", "high", "medium", "low"]
# agent/manager/admin/client are the incident-desk names; the older names stay valid (see libs/auth.py EQUIVALENT).
Role = Literal[
    "provider_admin", "engineer", "change_manager", "cab_member", "client_viewer", "client_approver",
    "agent", "manager", "admin", "client",
]  # fmt: skip
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: object) -> timedelta:
    """`15m`, `4h`, `1h30m`, `2s`, `1d`, `1w` (an on-call rotation's week) or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)  # a plain number is seconds
    if isinstance(value, str) and value.strip().upper().startswith("P"):  # ISO 8601 (PT15M): what a dump writes
        try:
            return TypeAdapter(timedelta).validate_python(value.strip())
        except ValidationError:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 4h, 1h30m, 1d, or PT15M)") from None
    m = _DURATION.match(str(value).strip()) if isinstance(value, str) and value.strip() else None
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 4h, 1h30m, 1d)")
    w, d, h, mi, s = m.groups()
    days = 7 * int(w or 0) + int(d or 0)
    return timedelta(days=days, hours=int(h or 0), minutes=int(mi or 0), seconds=float(s or 0))


def parse_positive_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"must be a positive duration, got {value!r}")
    return duration


Duration = Annotated[timedelta, BeforeValidator(parse_positive_duration)]


def parse_nonnegative_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration < timedelta(0):
        raise ValueError(f"must not be negative, got {value!r}")
    return duration


OptionalDuration = Annotated[timedelta, BeforeValidator(parse_nonnegative_duration)]  # 0 switches a rule off
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the secret")]


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Level = Literal["high", "medium", "low"]
LEVELS: tuple[Level, ...] = ("high", "medium", "low")

Risk = Literal["low", "medium", "high"]
