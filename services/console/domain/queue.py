"""Queue filters: what a queue page asks the incident list API for, and whether a live row belongs on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
CATEGORIES = ("infrastructure", "network", "security", "cloud", "end-user", "data", "compliance")
OPEN_STATES = ("new", "acknowledged", "in_progress", "on_hold")
STATES = (*OPEN_STATES, "resolved", "closed")
RISKS = ("at_risk", "breached")
SORTS = ("opened", "priority", "due", "number")
VIEWS = ("all", "1", "2", "3", "mine")  # the tabs: every open incident, one tier, the user's own
PAGE_SIZE = 50


class BadFilter(ValueError):
    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("invalid filter")
        self.problems = problems


@dataclass(frozen=True)
class QueueFilter:
    view: str = "all"
    tenant: str = ""
    priority: str = ""
    category: str = ""
    state: str = "open"  # "open" (the four open states), one state, or "" for every state
    risk: str = ""
    sort: str = "opened"
    text: str = ""  # narrows the rows of the page by number or title (the API has no full-text search)
    cursor: str = ""

    def api_params(self, user: str) -> dict[str, str]:
        """The query for GET /v1/incidents."""
        q: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if self.view in ("1", "2", "3"):
            q["tier"] = self.view
        if self.view == "mine":
            q["assignee"] = user
        for name in ("tenant", "priority", "category", "cursor"):
            if value := getattr(self, name):
                q[name] = value
        if self.state:
            q["state"] = self.state
        if self.risk:
            q[self.risk] = "true"
        if self.sort != "opened":
            q["sort"] = self.sort
        return q

    def matches(self, incident: Mapping[str, Any], user: str) -> bool:
        """Whether a row fetched after a live message belongs on this page."""
        i = incident
        if self.view in ("1", "2", "3") and str(i.get("tier")) != self.view:
            return False
        if self.view == "mine" and i.get("assignee") != user:
            return False
        if self.state == "open" and i.get("state") not in OPEN_STATES:
            return False
        if self.state not in ("", "open") and i.get("state") != self.state:
            return False
        if self.risk and not i.get(self.risk):
            return False
        checks = (("tenant", "tenant"), ("priority", "priority"), ("category", "category"))
        if any(getattr(self, f) and i.get(k) != getattr(self, f) for f, k in checks):
            return False
        return not self.text or self.text_matches(i)

    def text_matches(self, incident: Mapping[str, Any]) -> bool:
        needle = self.text.casefold()
        return (
            needle in str(incident.get("number", "")).casefold() or needle in str(incident.get("title", "")).casefold()
        )

    def query_string(self, **changes: str) -> str:
        """This filter (with `changes`) as a query string, defaults left out: tab and pager links."""
        f = replace(self, **changes)
        defaults = QueueFilter()
        pairs = {k: getattr(f, k) for k in FIELDS if getattr(f, k) != getattr(defaults, k)}
        return urlencode(pairs)


FIELDS = ("view", "tenant", "priority", "category", "state", "risk", "sort", "text", "cursor")
CHOICES: dict[str, tuple[str, ...]] = {
    "view": VIEWS,
    "priority": ("", *PRIORITIES),
    "category": ("", *CATEGORIES),
    "state": ("", "open", *STATES),
    "risk": ("", *RISKS),
    "sort": SORTS,
}


def parse_filter(query: Mapping[str, str], tenants: list[str]) -> QueueFilter:
    """A QueueFilter from a page's query string; unknown values are refused with what is allowed."""
    problems = []
    values: dict[str, str] = {}
    for name in FIELDS:
        raw = query.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        allowed = CHOICES.get(name) or (("", *tenants) if name == "tenant" else None)
        if allowed is not None and raw not in allowed:
            problems.append({"field": name, "message": f"one of {', '.join(a or '(any)' for a in allowed)}"})
        elif name in ("text", "cursor") and len(raw) > 200:
            problems.append({"field": name, "message": "at most 200 characters"})
        else:
            values[name] = raw
    if problems:
        raise BadFilter(problems)
    return QueueFilter(**values)
