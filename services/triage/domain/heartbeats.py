"""Heartbeats, pure: when one falls silent, and the alerts its silence raises and its next beat resolves.

A heartbeat is armed by its first beat (one never heard from is `never`, not late: Tierline cannot tell a
tool not yet set up from one that died). From then on it is **late** once `expect_every + grace` pass without
a beat, and a backup job also once `rpo + grace` pass without a good recovery point (counted from its first
report until it has one). Late raises one firing alert, dedup key `heartbeat:<name>`, which opens an incident
through the ordinary triage path; the beat that ends the lateness raises the resolved alert on the same key.
One alert per late spell, however long it lasts and whichever replica notices.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from libs.config import Heartbeat
from libs.contracts import AlertReceived, HeartbeatReceived

SOURCE = "heartbeat"  # the alerts' source: the incident shows `heartbeat:<name>` as the tool
Status = Literal["ok", "late", "never"]


@dataclass
class HeartbeatState:
    """One heartbeat as triage knows it (a `heartbeats` row)."""

    tenant: str
    name: str
    first_beat_at: datetime | None = None
    last_beat_at: datetime | None = None
    recovery_point: datetime | None = None  # a backup's newest good recovery point
    late_since: datetime | None = None  # its late alert fired then, and is not resolved yet
    late_reason: str | None = None  # silent | rpo
    fired: int = 0  # late alerts raised so far: part of their ids
    incident_id: str | None = None  # the incident the last late alert opened or joined
    due_at: datetime | None = None  # when to look again (`next_due`), kept up by record_beat and fire_if_late


def silent_at(s: HeartbeatState, spec: Heartbeat) -> datetime | None:
    """When it counts as silent: the last beat + expect_every + grace."""
    return None if s.last_beat_at is None else s.last_beat_at + spec.expect_every + spec.grace


def rpo_missed_at(s: HeartbeatState, spec: Heartbeat) -> datetime | None:
    """A backup's RPO deadline: its newest good recovery point (or, with none yet, its first report) + rpo + grace."""
    since = s.recovery_point or s.first_beat_at
    return None if spec.rpo is None or since is None else since + spec.rpo + spec.grace


def late_reason(s: HeartbeatState, spec: Heartbeat, now: datetime) -> str | None:
    silent, rpo = silent_at(s, spec), rpo_missed_at(s, spec)
    if silent is not None and silent <= now:
        return "silent"
    return "rpo" if rpo is not None and rpo <= now else None


def next_due(s: HeartbeatState, spec: Heartbeat) -> datetime | None:
    """When the worker should look again: the nearer deadline, none while its late alert is out."""
    deadlines = [d for d in (silent_at(s, spec), rpo_missed_at(s, spec)) if d is not None]
    return None if s.late_since is not None or not deadlines else min(deadlines)


def status(s: HeartbeatState | None, spec: Heartbeat, now: datetime) -> Status:
    if s is None or s.last_beat_at is None:
        return "never"
    return "late" if late_reason(s, spec, now) or s.late_since else "ok"


def _id(*parts: object) -> str:
    return "hb-" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:29]


def _when(at: datetime | None) -> str:
    return "never" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


def _alert(s: HeartbeatState, spec: Heartbeat, status: str, summary: str, at: datetime) -> AlertReceived:
    return AlertReceived(
        alert_id=_id(s.tenant, s.name, s.fired, status), source=SOURCE, integration=s.name,
        dedup_key=f"heartbeat:{s.name}", status=status, severity=spec.severity, summary=summary, ci=spec.ci,
        labels={"heartbeat": s.name, "kind": spec.kind}, received_at=at,
    )  # fmt: skip


def record_beat(s: HeartbeatState, beat: HeartbeatReceived, spec: Heartbeat) -> AlertReceived | None:
    """Apply a beat (in any order: the newest wins); the resolved alert if it ends a late spell."""
    at = beat.received_at
    s.first_beat_at = min(s.first_beat_at or at, at)
    s.last_beat_at = max(s.last_beat_at or at, at)
    if beat.status == "success" and beat.recovery_point is not None:
        s.recovery_point = max(s.recovery_point or beat.recovery_point, beat.recovery_point)
    resolved = None
    # Judged at the later of the beat and the spell's start: a beat delivered late, older than the silence, ends
    # nothing; a failed backup run ends the silence, not the missed RPO.
    if s.late_since is not None and (reason := late_reason(s, spec, max(at, s.late_since))) is not None:
        s.late_reason = reason
    elif s.late_since is not None:
        s.late_since = s.late_reason = None
        resolved = _alert(s, spec, "resolved", f"{s.name} is reporting again ({_when(at)})", at)
    s.due_at = next_due(s, spec)
    return resolved


def fire_if_late(s: HeartbeatState, spec: Heartbeat, now: datetime) -> AlertReceived | None:
    """The late alert, if the heartbeat is late now and has not raised one for this spell (else it is re-armed:
    a config change may have moved its deadline)."""
    reason = late_reason(s, spec, now)
    if reason is None or s.late_since is not None:
        s.due_at = next_due(s, spec)
        return None
    s.fired, s.late_since, s.late_reason = s.fired + 1, now, reason
    if reason == "silent":
        summary = f"no heartbeat from {s.name} since {_when(s.last_beat_at)}"
        since = silent_at(s, spec)
    else:
        rpo = _hours(spec.rpo or timedelta(0))
        summary = f"backup {s.name}: no good recovery point since {_when(s.recovery_point)} (RPO {rpo})"
        since = rpo_missed_at(s, spec)
    s.due_at = None
    alert = _alert(s, spec, "firing", summary, now)
    return alert.model_copy(update={"started_at": since, "detection_delay_s": (now - since).total_seconds()})


def _hours(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 3600} h" if s % 3600 == 0 else f"{s // 60} min" if s % 60 == 0 else f"{s} s"
