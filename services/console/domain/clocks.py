"""SLA countdowns: which clock a row shows, its state and colour, and the words for it.

The escalation service owns the clocks; the console only reads them, in either shape: the incident's own
`sla` (`{"response": {...}, "resolution": {...}}`) or escalation's clock list (`GET /v1/sla/incidents/{ref}`).
A due time is already counted in the contract's coverage hours, so counting down to it is right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

CLOCKS = ("response", "resolution")
LABELS = {"response": "respond", "resolution": "resolve"}


@dataclass(frozen=True)
class Countdown:
    clock: str  # response | resolution
    state: str  # running | paused | breached | stopped | unknown
    due_at: datetime | None
    tone: str  # ok | warn | breach | paused | done | none: the colour
    text: str  # what a page without JavaScript shows; the script keeps it ticking

    @property
    def label(self) -> str:
        return LABELS.get(self.clock, self.clock)

    @property
    def ticking(self) -> bool:
        return self.state in ("running", "breached") and self.due_at is not None


NO_CLOCK = Countdown("response", "unknown", None, "none", "no SLA clock yet")


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def clock_state(c: Mapping[str, Any]) -> str:
    if c.get("state") in ("running", "paused", "stopped", "breached"):
        return str(c["state"])
    if c.get("stopped_at"):
        return "stopped"
    if c.get("breached_at"):
        return "breached"
    return "paused" if c.get("paused_at") else "running"


def span(seconds: float) -> str:
    """1d 2h, 3h 05m, 12m 09s, 42s: compact, the way a queue shows it."""
    s = int(abs(seconds))
    d, h, m, sec = s // 86400, s % 86400 // 3600, s % 3600 // 60, s % 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m {sec:02d}s" if m else f"{sec}s"


def countdown(name: str, c: Mapping[str, Any], now: datetime) -> Countdown:
    state, due = clock_state(c), _time(c.get("due_at"))
    label = LABELS.get(name, name)
    if state == "stopped":
        met = c.get("met")
        word = "met" if met or (met is None and not c.get("breached_at")) else "missed"
        return Countdown(name, state, due, "done", f"{label}: {word}")
    if state == "paused":
        return Countdown(name, state, due, "paused", f"{label}: paused")
    if due is None:
        return Countdown(name, state, None, "none", f"{label}: no due time")
    left = (due - now).total_seconds()
    if state == "breached" or left <= 0:
        return Countdown(name, "breached", due, "breach", f"{label}: breached {span(left)} ago")
    tone = "warn" if c.get("warned") else "ok"
    return Countdown(name, state, due, tone, f"{label} in {span(left)}")


def clocks_by_name(incident: Mapping[str, Any], fallback: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """{response: clock, resolution: clock} from the incident's `sla`, else from escalation's clock list."""
    sla = incident.get("sla")
    if isinstance(sla, Mapping) and sla:
        return {k: v for k, v in sla.items() if k in CLOCKS and isinstance(v, Mapping) and v}
    return {c["clock"]: c for c in fallback if c.get("clock") in CLOCKS}


def row_countdown(incident: Mapping[str, Any], clocks: Mapping[str, Any], now: datetime) -> Countdown:
    """The one countdown a queue row shows: the response clock until it stops, then the resolution clock."""
    if not clocks:
        return NO_CLOCK
    for name in CLOCKS:
        c = clocks.get(name)
        if c and clock_state(c) != "stopped":
            view = countdown(name, c, now)
            if view.tone == "ok" and incident.get("at_risk"):  # triage heard a warning first
                view = Countdown(view.clock, view.state, view.due_at, "warn", view.text)
            return view
    last = clocks.get("resolution") or clocks.get("response")
    return countdown("resolution" if "resolution" in clocks else "response", last, now)  # type: ignore[arg-type]


def copy_lags(incident: Mapping[str, Any]) -> bool:
    """Whether triage's copy of the clocks (the incident's `sla`) cannot be right yet, so escalation must be
    asked: none heard of on an open incident, or a state that has stopped or paused a clock the copy still
    shows running (triage applies escalation's news a moment after escalation publishes it)."""
    state = incident.get("state")
    sla = incident.get("sla")
    if not isinstance(sla, Mapping) or not sla:
        return state not in ("resolved", "closed")
    response, resolution = sla.get("response") or {}, sla.get("resolution") or {}
    if state != "new" and response and clock_state(response) != "stopped":
        return True
    if state == "on_hold" and resolution and clock_state(resolution) == "running":
        return True
    return state in ("resolved", "closed") and bool(resolution) and clock_state(resolution) != "stopped"
