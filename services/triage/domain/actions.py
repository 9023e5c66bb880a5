"""What people do to an incident, pure: each action checks the lifecycle, changes the incident and returns
its timeline entries and the events it raises. The API (services/triage/api/commands.py) commits them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from libs.contracts import (
    Contract,
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentClosed,
    IncidentEscalated,
    IncidentHeld,
    IncidentInProgress,
    IncidentNoteAdded,
    IncidentPriorityChanged,
    IncidentReopened,
    IncidentResumed,
)
from libs.lifecycle import IllegalTransition
from services.triage.domain.incident import Incident, IncidentRefused, transition
from services.triage.events import resolved

RESOLUTION_CODES = (
    "solved", "workaround", "not_reproducible", "duplicate", "caused_by_change", "resolved_by_caller", "cancelled",
)  # fmt: skip


@dataclass
class Done:
    """An action's record: timeline entries (kind, detail) and events (type, payload)."""

    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[str, Contract]] = field(default_factory=list)

    def add(self, kind: str, detail: dict[str, Any], event: str, payload: Contract) -> Done:
        self.steps.append((kind, detail))
        self.events.append((event, payload))
        return self


def _ref(i: Incident) -> dict[str, str]:
    return {"incident_id": i.id, "number": i.number}


def _must_be_open(i: Incident, action: str) -> None:
    if not i.is_open:
        raise IncidentRefused(
            409, "incident_not_open", f"cannot {action} an incident that is {i.state}", [{"state": i.state}]
        )


def acknowledge(i: Incident, by: str, at: datetime) -> Done:
    i.state, i.acknowledged_at = transition(i.state, "acknowledge"), at
    return Done().add("acknowledged", {}, "incident.acknowledged", IncidentAcknowledged(**_ref(i), by=by, at=at))


def start(i: Incident, by: str, at: datetime) -> Done:
    was, i.state = i.state, transition(i.state, "start")
    done = Done()
    if was == "new":  # starting work is a response: the response clock stops
        i.acknowledged_at = at
        done.add("acknowledged", {}, "incident.acknowledged", IncidentAcknowledged(**_ref(i), by=by, at=at))
    return done.add("in_progress", {}, "incident.in_progress", IncidentInProgress(**_ref(i), by=by, at=at))


def hold(i: Incident, by: str, at: datetime, reason: str, comment: str | None) -> Done:
    i.state, i.hold_reason = transition(i.state, "hold"), reason
    payload = IncidentHeld(**_ref(i), reason=reason, by=by, at=at, comment=comment)  # type: ignore[arg-type]
    return Done().add("held", {"reason": reason, "comment": comment}, "incident.held", payload)


def resume(i: Incident, by: str, at: datetime) -> Done:
    reason = i.hold_reason or "pending_customer"
    i.state, i.hold_reason = transition(i.state, "resume"), None
    payload = IncidentResumed(**_ref(i), reason=reason, by=by, at=at)  # type: ignore[arg-type]
    return Done().add("resumed", {"reason": reason}, "incident.resumed", payload)


def resolve(i: Incident, by: str, at: datetime, code: str, first_contact: bool, note: str | None) -> Done:
    i.state, i.resolved_at, i.hold_reason = transition(i.state, "resolve"), at, None
    i.resolution_code, i.first_contact = code, first_contact
    detail = {"resolution_code": code, "first_contact": first_contact, "note": note}
    return Done().add("resolved", detail, "incident.resolved", resolved(i, by, at, "manual"))


def close(i: Incident, by: str, at: datetime) -> Done:
    i.state, i.closed_at = transition(i.state, "close"), at
    return Done().add("closed", {}, "incident.closed", IncidentClosed(**_ref(i), by=by, at=at))


def reopen(i: Incident, by: str, at: datetime, reason: str) -> Done:
    i.state = transition(i.state, "reopen")
    if i.acknowledged_at is None:  # nobody ever responded: it goes back to the queue as new
        i.state = "new"
    i.reopen_count += 1
    i.resolved_at = i.resolution_code = i.first_contact = None
    payload = IncidentReopened(**_ref(i), by=by, at=at, reason=reason, state=i.state)
    return Done().add("reopened", {"reason": reason}, "incident.reopened", payload)


def assign(i: Incident, by: str, at: datetime, assignee: str | None) -> Done:
    _must_be_open(i, "assign")
    previous, i.assignee = i.assignee, assignee
    payload = IncidentAssigned(**_ref(i), assignee=assignee, previous=previous, by=by, at=at)
    return Done().add("assigned", {"assignee": assignee, "previous": previous}, "incident.assigned", payload)


def escalate(i: Incident, by: str, at: datetime, reason: str, assignee_tier: int | None) -> Done:
    _must_be_open(i, "escalate")
    if i.tier >= 3:
        raise IncidentRefused(409, "top_tier", "the incident is already at Tier 3", [{"tier": i.tier}])
    was = i.tier
    i.tier, i.queue = was + 1, f"tier-{was + 1}"
    payload = IncidentEscalated(**_ref(i), from_tier=was, to_tier=i.tier, reason=reason, at=at, by=by)
    done = Done().add("escalated", {"from_tier": was, "to_tier": i.tier, "reason": reason}, "incident.escalated",
                      payload)  # fmt: skip
    return unassign_below_tier(i, done, by, at, assignee_tier)


def unassign_below_tier(i: Incident, done: Done, by: str, at: datetime, assignee_tier: int | None) -> Done:
    """Escalated above its assignee's own tier, the incident is unassigned: `assign` would refuse that person
    now (tier_too_low), so keeping them would say two things at once. Staff without a tier (managers, admins)
    stay assigned."""
    if i.assignee is None or assignee_tier is None or assignee_tier >= i.tier:
        return done
    previous, i.assignee = i.assignee, None
    detail = {"previous": previous, "reason": f"escalated to Tier {i.tier}; {previous} works Tier {assignee_tier}"}
    payload = IncidentAssigned(**_ref(i), assignee=None, previous=previous, by=by, at=at)
    return done.add("unassigned", detail, "incident.assigned", payload)


def set_priority(i: Incident, by: str, at: datetime, priority: str, reason: str) -> Done:
    _must_be_open(i, "re-prioritise")
    if priority == i.priority:
        raise IncidentRefused(409, "unchanged", f"the incident is already {priority}")
    was, i.priority = i.priority, priority
    payload = IncidentPriorityChanged(**_ref(i), from_priority=was, to_priority=priority, by=by, at=at, reason=reason)
    detail = {"from": was, "to": priority, "reason": reason}
    return Done().add("priority_changed", detail, "incident.priority_changed", payload)


def note(i: Incident, by: str, at: datetime, text: str, internal: bool) -> Done:
    payload = IncidentNoteAdded(**_ref(i), by=by, at=at, text=text, internal=internal)
    return Done().add("note", {"text": text, "internal": internal}, "incident.note_added", payload)


def answer_page(i: Incident, action: str, by: str, at: datetime, via: dict[str, Any]) -> Done:
    """A paged person used a page's acknowledge or resolve link (escalation checked it): the action as them, a
    resolve with the code `solved`, and the timeline saying through which page. An incident already past it
    (acknowledged, resolved) is left alone; the timeline still shows who tried (docs/oncall.md)."""
    try:
        if action == "resolve":
            done = resolve(i, by, at, "solved", False, "resolved from a page link")
        else:
            done = acknowledge(i, by, at)
    except IllegalTransition:
        return Done(steps=[("page_link_ignored", via | {"action": action, "state": i.state})])
    done.steps = [(kind, detail | via) for kind, detail in done.steps]
    return done
