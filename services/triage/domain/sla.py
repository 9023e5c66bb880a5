"""What triage knows of an incident's SLA clocks, from escalation's sla.* events (pure).

Escalation owns the clocks; triage keeps a copy on the incident so its list can sort by the deadline that
matters now, the console can count down without asking escalation, and warnings and breaches show on the
timeline. The shape of `incident.sla` is what the console reads: per clock `state` (running, paused,
stopped, breached), `started_at`, `due_at`, `target_s`, `paused_at`, `warned` (warnings fired),
`breached_at`, `met` (null until stopped). Events are read by field, not by contract, so a payload that
grows fields keeps working.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import ConfigDict

from libs.contracts import Contract, each_clock_started

EVENTS = (
    "sla.clocks_started", "sla.clock_started", "sla.clock_stopped", "sla.clock_paused", "sla.clock_resumed",
    "sla.clock_retargeted", "sla.warning", "sla.breached",
)  # fmt: skip
CLOCKS = ("response", "resolution")


class SlaNews(Contract):
    """Any of escalation's clock events, as triage reads them: by field (the fold below), not by contract."""

    model_config = ConfigDict(extra="allow", frozen=True)
    VIEW_OF: ClassVar[tuple[str, ...]] = EVENTS

    incident_id: str


# A timeline entry: (kind, when as ISO text or None, detail).
Entry = tuple[str, Any, dict[str, Any]]


def _blank() -> dict[str, Any]:
    """A clock first heard of by a later event (it started before triage kept clocks): what is known fills in."""
    return {"state": "running", "started_at": None, "due_at": None, "target_s": None, "paused_at": None,
            "warned": 0, "breached_at": None, "met": None}  # fmt: skip


def _at(value: Any) -> str | None:
    """An instant as the rest of the incident writes it (2026-12-01T13:42:21+00:00), whatever the event said."""
    try:
        return datetime.fromisoformat(value).isoformat() if isinstance(value, str) else None
    except ValueError:
        return None


def _state(c: dict[str, Any]) -> str:
    # As escalation's own clock view says it: a stopped clock is stopped, breached or not.
    if c["met"] is not None:
        return "stopped"
    if c["breached_at"] is not None:
        return "breached"
    return "paused" if c["paused_at"] is not None else "running"


def apply(sla: dict[str, dict[str, Any]], kind: str, d: dict[str, Any]) -> Entry | None:
    """Fold one sla.* event into `sla` (changed in place); a warning or a breach also gives a timeline entry."""
    if kind == "sla.clocks_started":  # an opening's clocks in one event: each as the sla.clock_started it replaces
        for one in each_clock_started(d):
            apply(sla, "sla.clock_started", one)
        return None
    name = d.get("clock")
    if name not in CLOCKS:
        return None
    c = sla.setdefault(name, _blank())
    due = _at(d.get("due_at")) or c["due_at"]
    entry: Entry | None = None
    match kind:
        case "sla.clock_started":
            c.update(_blank(), started_at=_at(d.get("started_at")), due_at=due, target_s=d.get("target_s"))
        case "sla.clock_stopped":
            c["met"], c["paused_at"] = bool(d.get("met", c["breached_at"] is None)), None
        case "sla.clock_paused":
            c["paused_at"] = _at(d.get("paused_at") or d.get("at"))
        case "sla.clock_resumed":
            c["paused_at"], c["due_at"] = None, due
            if d.get("reason") == "reopened":  # the incident came back: its resolution clock counts on
                c["met"] = None
        case "sla.clock_retargeted":
            c["target_s"], c["due_at"] = d.get("target_s", c["target_s"]), due
        case "sla.warning":
            c["warned"] += 1
            c["due_at"] = due
            detail = {"clock": name, "fraction": d.get("fraction"), "due_at": due}
            entry = ("sla_warning", _at(d.get("fired_at") or d.get("at")), detail)
        case "sla.breached":
            c["breached_at"] = c["breached_at"] or _at(d.get("breached_at") or d.get("at"))
            c["due_at"] = due
            entry = ("sla_breached", c["breached_at"], {"clock": name, "due_at": due, "late": d.get("late")})
    c["state"] = _state(c)
    return entry


def deadline(sla: dict[str, dict[str, Any]]) -> str | None:
    """The deadline that matters now: the response clock's while it runs (unacknowledged), else the
    resolution clock's; none while the clock that matters is paused or stopped. A breached clock keeps its
    (passed) deadline: it is the most urgent of all."""
    for name in CLOCKS:
        c = sla.get(name)
        if c is None or c["state"] == "stopped":
            continue
        return c["due_at"] if c["state"] in ("running", "breached") else None
    return None
