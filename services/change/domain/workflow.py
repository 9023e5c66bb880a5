"""The moves of a change that record something beyond the state: open, assess, schedule, implement. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from libs.config import Tenant
from services.change.domain.approvals import board_for, check_reachable
from services.change.domain.changes import (
    ChangeRequest,
    ChangeType,
    IncidentLink,
    InvalidChange,
    Step,
    check_cis,
    check_window,
    move,
    outcome_of,
)
from services.change.domain.schedule import check_schedule, check_start


# What the rules read from a request: the API's bodies (services/change/api/schemas.py) have these fields, and the
# rules stay free of HTTP.
class NewChange(Protocol):
    """A request to raise a change."""

    change_type: ChangeType
    ci: str | None
    cis: list[str] | None
    title: str | None
    description: str | None
    template: str | None
    planned_start: datetime | None
    planned_end: datetime | None
    implementer: str | None
    rollback_plan: str | None


class ScheduleRequest(Protocol):
    """A request to book (or move) a change's window."""

    planned_start: datetime | None
    planned_end: datetime | None
    implementer: str | None
    override_reason: str | None
    comment: str | None


def _invalid(field: str, message: str) -> InvalidChange:
    return InvalidChange(message, [{"field": field, "message": message}])


def _from_template(tenant: Tenant, body: NewChange, cis: list[str], field: str) -> tuple[str, str | None, list[str]]:
    """A standard change's title, description and CIs, from its pre-approved template."""
    if not body.template:
        known = ", ".join(tenant.changes.template_index) or "none configured"
        raise _invalid("template", f"a standard change is created from a template (known: {known})")
    template = tenant.changes.template_index.get(body.template)
    if template is None:
        known = ", ".join(tenant.changes.template_index) or "none configured"
        raise _invalid("template", f"unknown template {body.template!r} (known: {known})")
    if outside := [c for c in cis if c not in template.cis]:
        raise _invalid(field, f"template {template.id} does not cover {', '.join(outside)}")
    return body.title or template.title, body.description or template.description, cis or list(template.cis)


def check_duration(tenant: Tenant, template_id: str | None, start: datetime | None, end: datetime | None) -> None:
    """A standard change's window fits its template's max_duration."""
    template = tenant.changes.template_index.get(template_id or "")
    if template and template.max_duration and start and end and end - start > template.max_duration:
        most, asked = (round(d.total_seconds() / 60) for d in (template.max_duration, end - start))
        raise _invalid("planned_end", f"template {template.id} allows at most {most} min; this window is {asked} min")


def open_change(
    tenant: Tenant, body: NewChange, *, id: str, number: str, by: str, at: datetime
) -> tuple[ChangeRequest, Step]:
    """A new draft; its quorum is fixed now (and again when assessed) so a CAB reconfiguration does not move
    the bar under a change in flight."""
    if body.ci and body.cis:
        raise _invalid("cis", "send either ci or cis, not both")
    cis = list(dict.fromkeys(body.cis or ([body.ci] if body.ci else [])))
    title, description, field = body.title, body.description, "ci" if body.ci else "cis"
    if body.change_type == "standard":
        title, description, cis = _from_template(tenant, body, cis, field)
    elif body.template:
        raise _invalid("template", "only standard changes come from a template")
    if not title:
        raise _invalid("title", "a title is required")
    check_cis(tenant, cis, field)
    check_window(body.planned_start, body.planned_end, now=at)
    check_duration(tenant, body.template, body.planned_start, body.planned_end)  # at once, not at submit
    change = ChangeRequest(
        id=id,
        tenant=tenant.id,
        number=number,
        change_type=body.change_type,
        ci=cis[0],
        title=title,
        description=description,
        state="draft",
        requested_by=by,
        quorum=0,
        created_at=at,
        updated_at=at,
        cis=cis,
        template=body.template,
        planned_start=body.planned_start,
        planned_end=body.planned_end,
        implementer=body.implementer,
        rollback_plan=body.rollback_plan,
    )
    change.quorum = board_for(tenant, change).quorum
    return change, Step("created", None, change.state, by, at)


def assess(
    change: ChangeRequest, tenant: Tenant, *, risk: str, impact: str, by: str, at: datetime, comment: str | None
) -> Step:
    """Record risk and impact; the board (and so the quorum) may depend on the risk. Voting begins here, so a
    quorum its board cannot reach is refused now (409 quorum_unreachable) rather than waited for forever."""
    note = f"risk {risk}, impact {impact}" + (f": {comment}" if comment else "")
    step = move(change, "assess", by=by, at=at, comment=note)
    change.risk, change.impact = risk, impact  # type: ignore[assignment]
    board = board_for(tenant, change)
    change.quorum = board.quorum
    check_reachable(change, board)
    return step


def schedule(
    change: ChangeRequest, tenant: Tenant, others: list[ChangeRequest], body: ScheduleRequest, *, by: str, at: datetime
) -> Step:
    """Book the planned window after the freeze and conflict checks; overrides are recorded on the change."""
    change.lifecycle.next(change.state, "schedule")  # an illegal move is refused before any other check
    change.planned_start = body.planned_start or change.planned_start
    change.planned_end = body.planned_end or change.planned_end
    change.implementer = body.implementer or change.implementer
    if change.planned_start is None or change.planned_end is None:
        raise _invalid("planned_start", "scheduling needs a planned window (planned_start and planned_end)")
    check_window(change.planned_start, change.planned_end, now=at)
    check_duration(tenant, change.template, change.planned_start, change.planned_end)
    taken = check_schedule(tenant, change, others, override_reason=body.override_reason)
    change.overrides += [o | {"by": by, "at": at.isoformat()} for o in taken]
    comment = body.comment
    if taken:
        kinds = ", ".join(o["kind"] for o in taken)
        comment = f"overrode {kinds}: {body.override_reason}" + (f"; {comment}" if comment else "")
    return move(change, "schedule", by=by, at=at, comment=comment)


def start(
    tenant: Tenant, change: ChangeRequest, *, by: str, at: datetime, comment: str | None, override_reason: str | None
) -> Step:
    change.lifecycle.next(change.state, "start")  # an illegal move is refused as such, before the window
    taken = check_start(change, at=at, early=tenant.changes.early_start, override_reason=override_reason)
    change.overrides += [o | {"by": by, "at": at.isoformat()} for o in taken]
    if taken:
        comment = f"overrode outside_window: {override_reason}" + (f"; {comment}" if comment else "")
    step = move(change, "start", by=by, at=at, comment=comment)
    change.started_at = at
    return step


def finish(
    change: ChangeRequest,
    links: list[IncidentLink],
    *,
    failed: bool,
    by: str,
    at: datetime,
    comment: str | None,
    rollback: str | None = None,
) -> Step:
    """Implementation ended: completed, or failed with what was rolled back."""
    note = f"rolled back: {rollback}" + (f"; {comment}" if comment else "") if failed else comment
    step = move(change, "fail" if failed else "complete", by=by, at=at, comment=note)
    change.result, change.rollback, change.ended_at = ("failed" if failed else "successful"), rollback, at
    change.outcome = outcome_of(change, links)
    return step
