"""One incident's SLA clocks explained minute by minute, from its ledger events (pure).

GET /v1/reports/{tenant}/incidents/{id}/sla answers with this: for each clock, what happened when and in
words ("paused for pending customer 2 h 10 min"), and the totals the report's compliance figures use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.reporting.domain.stories import Clock, IncidentStory, instant

ORDER = {"started": 0, "retargeted": 1, "warning": 2, "paused": 3, "resumed": 4, "breached": 5, "stopped": 6}
NEVER = datetime.min.replace(tzinfo=UTC)


def human(seconds: float | None) -> str:
    """`2 h 10 min`, `45 s`, `3 d 4 h`: the way a service manager reads a duration."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m and not d else ""]
    return " ".join(p for p in parts if p) or "0 min"


def _reason(code: str | None) -> str:
    return (code or "?").replace("_", " ")


def _started(st: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": instant(st.get("started_at")),
        "what": "started",
        "due_at": instant(st.get("due_at")),
        "text": f"started: target {human(st.get('target_s'))} of {st.get('calendar', '24x7')} time, "
        f"due {st.get('due_at')}",
    }


def _retargeted(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": instant(t.get("at")),
        "what": "retargeted",
        "priority": t.get("priority"),
        "due_at": instant(t.get("due_at")),
        "text": f"priority {t.get('from_priority')} -> {t.get('priority')}: target now "
        f"{human(t.get('target_s'))} from the start, due {t.get('due_at')}",
    }


def _warning(w: dict[str, Any]) -> dict[str, Any]:
    pct = round(float(w.get("fraction", 0)) * 100)
    return {
        "at": instant(w.get("fired_at")),
        "what": "warning",
        "fraction": w.get("fraction"),
        "text": f"warning: {pct} % of the target used",
    }


def _paused(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": instant(p.get("paused_at")),
        "what": "paused",
        "reason": p.get("reason"),
        "text": f"paused for {_reason(p.get('reason'))} after {human(p.get('counted_s'))} counted",
    }


def _resumed(r: dict[str, Any]) -> dict[str, Any]:
    if r.get("reason") == "reopened":
        text = f"reopened: counting again after {human(r.get('paused_s'))} resolved; now due {r.get('due_at')}"
    else:
        text = f"resumed: paused for {_reason(r.get('reason'))} {human(r.get('paused_s'))}; now due {r.get('due_at')}"
    return {
        "at": instant(r.get("resumed_at")),
        "what": "resumed",
        "reason": r.get("reason"),
        "paused_s": r.get("paused_s"),
        "due_at": instant(r.get("due_at")),
        "text": text,
    }


def _breached(b: dict[str, Any]) -> dict[str, Any]:
    late = " (fired late: the service was down at the deadline)" if b.get("late") else ""
    return {
        "at": instant(b.get("breached_at")),
        "what": "breached",
        "due_at": instant(b.get("due_at")),
        "text": f"breached at {b.get('breached_at')}, due {b.get('due_at')}{late}",
    }


def _stopped(sp: dict[str, Any]) -> dict[str, Any]:
    counted = sp.get("coverage_s", sp.get("elapsed_s"))
    outcome = "met" if sp.get("met") else "not met"
    return {
        "at": instant(sp.get("stopped_at")),
        "what": "stopped",
        "met": bool(sp.get("met")),
        "text": f"stopped: {outcome}, {human(counted)} counted"
        + (f", {human(sp.get('paused_s'))} paused" if sp.get("paused_s") else ""),
    }


def _steps(clock: Clock) -> list[dict[str, Any]]:
    """Everything that happened to the clock, in time order (kinds at the same instant in ORDER)."""
    steps = [
        *([_started(clock.started)] if clock.started is not None else []),
        *map(_retargeted, clock.retargets),
        *map(_warning, clock.warnings),
        *map(_paused, clock.pauses),
        *map(_resumed, clock.resumes),
        *([_breached(clock.breached)] if clock.breached is not None else []),
        *map(_stopped, [*clock.earlier_stops, *([clock.stopped] if clock.stopped else [])]),
    ]
    return sorted(steps, key=lambda s: (s["at"] is None, s["at"] or NEVER, ORDER[s["what"]]))


def explain(story: IncidentStory) -> dict[str, Any]:
    clocks = []
    for name in ("response", "resolution"):
        clock = story.clocks.get(name)
        if clock is None:
            continue
        st, sp = clock.started or {}, clock.stopped or {}
        paused = sum(float(r.get("paused_s", 0)) for r in clock.resumes)
        clocks.append(
            {
                "clock": name,
                "calendar": st.get("calendar"),
                "target_s": clock.target_s,
                "target": human(clock.target_s),
                "outcome": {True: "met", False: "breached", None: "running"}[clock.met],
                "counted_s": sp.get("coverage_s", sp.get("elapsed_s")),
                "paused_s": round(paused, 3),
                "paused": human(paused) if paused else None,
                "steps": _steps(clock),
            }
        )
    holds = [{"reason": r, "from": on, "to": off} for r, on, off in story.holds]
    return {
        "incident_id": story.id,
        "number": story.number,
        "priority": story.priority,
        "opened_at": story.opened_at,
        "acknowledged_at": story.first_ack,
        "resolved_at": story.last_resolved,
        "holds": holds,
        "clocks": clocks,
    }
