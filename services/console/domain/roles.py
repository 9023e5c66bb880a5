"""What a signed-in person may see and do in the console. The APIs decide; this only keeps buttons that would
be refused off the page (and the refusal, if one comes anyway, is shown in words)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from libs.auth import Principal

INCIDENT_RESPONDERS = {"agent", "manager", "admin"}  # triage's, with their equivalents engineer, provider_admin
LIFECYCLE_ACTIONS = ("acknowledge", "start", "hold", "resume", "resolve", "close", "reopen")
WORK_ACTIONS = ("assign", "escalate", "priority", "notes")
CHANGE_REQUESTERS = {"provider_admin", "engineer", "change_manager"}
CHANGE_MANAGERS = {"provider_admin", "change_manager"}
CHANGE_VOTERS = {"provider_admin", "engineer", "change_manager", "cab_member", "client_approver"}
_CHANGE_ROLES = {
    "submit": CHANGE_REQUESTERS,
    "start": CHANGE_REQUESTERS,
    "complete": CHANGE_REQUESTERS,
    "fail": CHANGE_REQUESTERS,
    "cancel": CHANGE_REQUESTERS,
    "assess": CHANGE_MANAGERS,
    "schedule": CHANGE_MANAGERS,
    "review": CHANGE_MANAGERS,
    "close": CHANGE_MANAGERS,
}


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


def is_client(who: Principal) -> bool:
    return who.tenant is not None


def navigation(who: Principal) -> list[NavItem]:
    """The top bar. Pages join here as they come."""
    items = [NavItem("queue", "Queue", "/console/queue")]
    if who.has_role(INCIDENT_RESPONDERS):
        items.append(NavItem("mine", "Mine", "/console/queue?view=mine"))
    items += [
        NavItem("changes", "Changes", "/console/changes"),
        NavItem("oncall", "On call", "/console/oncall"),
        NavItem("reports", "Reports", "/console/reports"),
    ]
    return items


def incident_actions(incident: Mapping[str, Any], who: Principal) -> list[str]:
    """The POST actions to offer. An incident read from triage with caller-aware `allowed_actions` (it then
    carries `sla` too) is followed exactly; from an older triage, whose list is the lifecycle's alone, the
    console adds the work actions for responders and offers nothing to anyone else."""
    listed = [str(a) for a in incident.get("allowed_actions") or []]
    if "sla" in incident:
        return listed
    if is_client(who) or not who.has_role(INCIDENT_RESPONDERS):
        return []
    actions = [a for a in LIFECYCLE_ACTIONS if a in listed]
    if incident.get("state") in ("new", "acknowledged", "in_progress", "on_hold"):
        actions += ["assign", "priority"]
        if int(incident.get("tier") or 1) < 3:
            actions.append("escalate")
    if incident.get("state") != "closed":
        actions.append("notes")
    return actions


def change_actions(change: Mapping[str, Any], who: Principal) -> list[str]:
    """Workflow moves this person may try now: the change's `allowed_actions` kept to the roles that may
    make them; votes only for voters who did not raise the change and have not voted yet."""
    allowed = [str(a) for a in change.get("allowed_actions") or []]
    out = [a for a in allowed if a in _CHANGE_ROLES and who.has_role(_CHANGE_ROLES[a]) and not is_client(who)]
    if "approve" in allowed and may_vote(change, who):
        out += ["approve", "reject"]
    return out


def vote_refusal(change: Mapping[str, Any], who: Principal) -> str | None:
    """Why this person cannot vote on this change, in words (None: they may, or it is not in a vote)."""
    if "approve" not in (change.get("allowed_actions") or []):
        return None
    if change.get("requested_by") == who.user:
        return "You raised this change, so you cannot vote on it (no one approves their own change)."
    if any(v.get("voter") == who.user for v in change.get("votes") or []):
        return "You have voted on this change."
    if not who.has_role(CHANGE_VOTERS):
        return "Your role does not vote on changes."
    if who.role == "client_approver" and not (change.get("awaiting") or {}).get("client_approval"):
        return "This change does not wait for your organisation's approval."
    return None


def may_vote(change: Mapping[str, Any], who: Principal) -> bool:
    return "approve" in (change.get("allowed_actions") or []) and vote_refusal(change, who) is None


def may_create_change(who: Principal) -> bool:
    return not is_client(who) and who.has_role(CHANGE_REQUESTERS)
