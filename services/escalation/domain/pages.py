"""Paging people (pure): whom a step pages (the person on call now for each schedule it names, each user it
names, a schedule's fallback in a gap), one page per contact method with its delay, and the acknowledge and
resolve links a page carries once it is sent."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs.config import Directory, Person, Schedule, step_target
from services.escalation.domain.notifications import Incident, Notification, body_for
from services.escalation.domain.schedules import Override, Shift, final_shifts, horizon, next_handoff_in, on_call_in


@dataclass(frozen=True)
class Recipient:
    person: Person
    schedule: str | None  # the schedule they are paged for (None: named by the step itself)
    fallback: bool = False  # the schedule had a gap: its fallback is paged instead


@dataclass(frozen=True)
class StepPlan:
    """Whom a step pages now, who each of its schedules has on call (None: a gap), and the next handoff."""

    recipients: list[Recipient]
    on_call: dict[str, str | None]
    handoff_at: datetime | None
    gaps: list[str]  # schedules with nobody on call now
    since: dict[str, datetime]  # when each schedule's person now on call came on


class OnCall:
    """Who each schedule has on call around some moments close together (a batch of openings, a worker tick):
    each schedule's final shifts rendered once for all of them, not once per incident."""

    def __init__(self, overrides: Mapping[str, Sequence[Override]]) -> None:
        self.overrides = overrides
        self._rendered: dict[str, tuple[datetime, datetime, list[Shift]]] = {}

    def shifts(self, schedule: Schedule, at: datetime) -> tuple[list[Shift], datetime]:
        """Shifts covering `at` ± the schedule's horizon, and the end of that horizon."""
        around = horizon(schedule)
        found = self._rendered.get(schedule.id)
        if found is None or not (found[0] <= at - around and at + around <= found[1]):
            start, end = at - around, at + 2 * around  # room for the later moments of the batch
            found = (start, end, final_shifts(schedule, self.overrides.get(schedule.id, ()), start, end))
            self._rendered[schedule.id] = found
        return found[2], at + around


def schedules_of(notify: Sequence[str]) -> list[str]:
    return [ref for kind, ref in map(step_target, notify) if kind == "schedule"]


def plan_step(
    directory: Directory,
    tenant: str,
    notify: Sequence[str],
    oncall: OnCall,
    at: datetime,
    previous: Mapping[str, str | None] | None = None,
) -> StepPlan:
    """The step's schedules and users resolved at `at`. With `previous` (a handoff), only schedules whose
    person changed page anyone, and users named by the step are not paged again."""
    recipients: list[Recipient] = []
    now: dict[str, str | None] = {}
    handoffs, gaps = [], []
    since: dict[str, datetime] = {}
    for kind, ref in map(step_target, notify):
        if kind == "user" and previous is None and (person := directory.person(tenant, ref)) is not None:
            recipients.append(Recipient(person, None))
        schedule = directory.schedule_for(tenant, ref) if kind == "schedule" else None
        if schedule is None:
            continue
        shifts, horizon_end = oncall.shifts(schedule, at)
        shift = on_call_in(shifts, at)
        now[ref] = shift.user if shift else None
        if shift is not None:
            since[ref] = shift.start
        if (change := next_handoff_in(shifts, at, horizon_end)) is not None:
            handoffs.append(change)
        if previous is not None and previous.get(ref, "") == now[ref]:
            continue  # the same person as before: nobody new to page
        name = now[ref] or schedule.fallback
        if shift is None:
            gaps.append(ref)
        if name is not None and (person := directory.person(tenant, name)) is not None:
            recipients.append(Recipient(person, ref, fallback=shift is None))
    return StepPlan(_once(recipients), now, min(handoffs, default=None), gaps, since)


def _once(recipients: list[Recipient]) -> list[Recipient]:
    """A person on call for two schedules of a step, or named by it too, is paged once."""
    seen: set[str] = set()
    out = []
    for r in recipients:
        if r.person.name not in seen:
            seen.add(r.person.name)
            out.append(r)
    return out


def person_pages(
    tenant: str,
    recipients: Sequence[Recipient],
    *,
    trigger: str,
    incident: Incident,
    event: dict[str, Any],
    dedup: str,
    at: datetime,
) -> list[Notification]:
    """One page per contact method of each recipient, due `delay` after `at`; `dedup` (the cause) makes a
    replay page nobody twice."""
    found = []
    for r in recipients:
        for i, method in enumerate(r.person.contact_methods):
            nid = str(uuid.uuid4())
            data = event.get("data", {}) | {"person": r.person.name, "schedule": r.schedule, "fallback": r.fallback}
            body = body_for(method.kind, notification_id=nid, tenant=tenant, trigger=trigger, incident=incident,
                            event=event | {"data": data})  # fmt: skip
            page = Notification(
                id=nid, tenant=tenant, incident_id=incident.incident_id, number=incident.number,
                target=r.person.name, kind=method.kind, trigger=trigger, dedup_key=f"{dedup}#{i}", body=body,
                person=r.person.name, method=i, schedule=r.schedule, due_at=at + method.delay,
            )  # fmt: skip
            found.append(page)
    return found


def with_links(kind: str, body: dict[str, Any], links: Mapping[str, str], expires_at: datetime) -> dict[str, Any]:
    """A page's body with its acknowledge and resolve links (made when it is sent, so only their hashes are
    ever stored)."""
    until = f"{expires_at:%Y-%m-%d %H:%M} UTC"
    lines = [f"{action.capitalize()}: {url}" for action, url in links.items()]
    if kind == "email":
        text = body["text"] + "\n\n" + "\n".join(lines) + f"\n(each link works once, until {until})\n"
        return body | {"text": text}
    if kind == "slack":
        links_md = " | ".join(f"<{url}|{action.capitalize()}>" for action, url in links.items())
        block = {"type": "section", "text": {"type": "mrkdwn", "text": links_md}}
        return body | {"text": body["text"] + "\n" + "\n".join(lines), "blocks": [*body.get("blocks", []), block]}
    return body | {"links": dict(links), "links_expire_at": expires_at.isoformat()}
