"""The workflow's moves over HTTP: POST /v1/changes/{ref}/<action>. Each locks the change, lets the rules
decide, and commits state, timeline, votes, window rows and events in one unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from libs.auth import Principal, authenticate
from libs.config import Tenant
from libs.errors import ApiError, read_body
from libs.events import Envelope, utcnow
from libs.lifecycle import IllegalTransition
from libs.openapi import operation
from libs.uow import unit_of_work
from libs.web import respond, snapshot
from services.change import store
from services.change.api import windows
from services.change.api.context import MANAGERS, REQUESTERS, STATE, VOTERS, refusal, tenant_for, visible
from services.change.api.schemas import Assess, Clear, Comment, Fail, Schedule, Start, Submit
from services.change.api.views import detail_json
from services.change.domain import workflow
from services.change.domain.approvals import board_for, cast_vote, check_reachable
from services.change.domain.changes import ChangeRefused, ChangeRequest, Step, move, outcome_of
from services.change.domain.schedule import BOOKED_STATES, WindowOpen
from services.change.events import change_event, link_event


class Ctx:
    """What a decision may use: the locked change, its tenant, the connection, the actor, the time."""

    def __init__(
        self, request: web.Request, conn: asyncpg.Connection, change: ChangeRequest, tenant: Tenant, who: Principal
    ) -> None:
        self.request, self.conn, self.change, self.tenant, self.who = request, conn, change, tenant, who
        self.cid = request.headers.get("X-Request-Id")
        self.at: datetime = utcnow()
        self.extra: list[Envelope] = []  # events beyond the steps' own (window edges)


Decide = Callable[[Ctx, Any], Awaitable[list[Step]]]


async def act(request: web.Request, roles: set[str], model: type[BaseModel], decide: Decide) -> web.Response:
    """Authenticate, read the body (absent reads as {}), then decide under the change's row lock."""
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens, roles=roles)
    body = await read_body(request, model)
    ref = request.match_info["ref"]

    async with unit_of_work(st.pool, st.outbox) as tx:
        change = await visible(tx.conn, ref, who, lock=True)
        tenant = tenant_for(snapshot(request).config, change)
        ctx = Ctx(request, tx.conn, change, tenant, who)
        try:
            steps = await decide(ctx, body)
        except (IllegalTransition, ChangeRefused) as exc:
            raise refusal(exc) from None
        await store.save_change(tx.conn, change=change)
        await store.add_timeline(tx.conn, change_id=change.id, steps=steps)
        tx.emit(*[change_event(change, s, correlation_id=ctx.cid) for s in steps], *ctx.extra)
        detail = await detail_json(tx.conn, change, tenant)
    return respond(detail)


async def _schedule(ctx: Ctx, body: Schedule) -> Step:
    c = ctx.change
    if c.state == "scheduled" and (await store.window_edges(ctx.conn, change_id=c.id)).get("start"):
        raise WindowOpen(f"the window of {c.number} has opened: start it, or cancel it and raise a new change")
    start, end = body.planned_start or c.planned_start, body.planned_end or c.planned_end
    others = []
    if start and end and start < end:
        await store.lock_schedule(ctx.conn, tenant=c.tenant)
        others = await store.booked_overlapping(ctx.conn, tenant=c.tenant, start=start, end=end, states=BOOKED_STATES)
    step = workflow.schedule(c, ctx.tenant, others, body, by=ctx.who.user, at=ctx.at)
    await store.book_window(ctx.conn, change=c)
    return step


async def _submit(ctx: Ctx, body: Submit) -> list[Step]:
    steps = [move(ctx.change, "submit", by=ctx.who.user, at=ctx.at, comment=body.comment)]
    if ctx.change.change_type == "standard":  # pre-approved: scheduled at once, with the same checks
        steps.append(await _schedule(ctx, Schedule(override_reason=body.override_reason)))
    elif ctx.change.change_type == "emergency":  # its emergency board votes from now on
        check_reachable(ctx.change, board_for(ctx.tenant, ctx.change))
    return steps


async def _assess(ctx: Ctx, body: Assess) -> list[Step]:
    args = {"risk": body.risk, "impact": body.impact, "comment": body.comment}
    return [workflow.assess(ctx.change, ctx.tenant, by=ctx.who.user, at=ctx.at, **args)]


def _vote(vote: str) -> Decide:
    async def decide(ctx: Ctx, body: Comment) -> list[Step]:
        board = board_for(ctx.tenant, ctx.change)
        args = {"voter": ctx.who.user, "vote": vote, "comment": body.comment, "board": board, "at": ctx.at}
        ballot, steps = cast_vote(ctx.change, **args)  # type: ignore[arg-type]
        await store.add_vote(ctx.conn, change_id=ctx.change.id, vote=ballot)
        return steps

    return decide


async def _schedule_action(ctx: Ctx, body: Schedule) -> list[Step]:
    return [await _schedule(ctx, body)]


async def _start(ctx: Ctx, body: Start) -> list[Step]:
    args = {"by": ctx.who.user, "at": ctx.at, "comment": body.comment, "override_reason": body.override_reason}
    step = workflow.start(ctx.tenant, ctx.change, **args)  # type: ignore[arg-type]
    ctx.extra += await windows.open_now(ctx.conn, ctx.change, ctx.at, ctx.cid)  # began before its window
    return [step]


def _finish(*, failed: bool) -> Decide:
    async def decide(ctx: Ctx, body: Comment) -> list[Step]:
        links = await store.links(ctx.conn, change_id=ctx.change.id)
        rollback = body.rollback if isinstance(body, Fail) else None
        args = {"by": ctx.who.user, "at": ctx.at, "comment": body.comment, "rollback": rollback}
        step = workflow.finish(ctx.change, links, failed=failed, **args)  # type: ignore[arg-type]
        ctx.extra += await windows.close_now(ctx.conn, ctx.change, ctx.at, ctx.cid)
        return [step]

    return decide


def _move(action: str) -> Decide:
    async def decide(ctx: Ctx, body: Comment) -> list[Step]:
        step = move(ctx.change, action, by=ctx.who.user, at=ctx.at, comment=body.comment)
        if action == "cancel":  # a window already open ends now; one not yet open never opens
            ctx.extra += await windows.close_now(ctx.conn, ctx.change, ctx.at, ctx.cid)
        return [step]

    return decide


async def _clear(ctx: Ctx, body: Clear) -> list[Step]:
    """A reviewer decides a linked incident was not caused by the change: it no longer counts as failed."""
    incident = ctx.request.match_info["incident"]
    links = await store.links(ctx.conn, change_id=ctx.change.id)
    link = next((x for x in links if incident in (x.incident_id, x.incident_number)), None)
    if link is None:
        raise ApiError(404, "not_found", f"no incident {incident} linked to {ctx.change.number}")
    if link.cleared_at is None:  # clearing twice changes nothing
        link.cleared_at, link.cleared_by, link.clear_reason = ctx.at, ctx.who.user, body.reason
        await store.clear_link(ctx.conn, change_id=ctx.change.id, link=link)
        ctx.change.outcome = outcome_of(ctx.change, links)
        ctx.extra.append(link_event(ctx.change, link, at=ctx.at, cid=ctx.cid))
    return []


# action -> (roles, body, decide)
ACTIONS: dict[str, tuple[set[str], type[BaseModel], Decide]] = {
    "submit": (REQUESTERS, Submit, _submit),
    "assess": (MANAGERS, Assess, _assess),
    "approve": (VOTERS, Comment, _vote("approve")),
    "reject": (VOTERS, Comment, _vote("reject")),
    "schedule": (MANAGERS, Schedule, _schedule_action),
    "start": (REQUESTERS, Start, _start),
    "complete": (REQUESTERS, Comment, _finish(failed=False)),
    "fail": (REQUESTERS, Fail, _finish(failed=True)),
    "review": (MANAGERS, Comment, _move("review")),
    "close": (MANAGERS, Comment, _move("close")),
    "cancel": (REQUESTERS, Comment, _move("cancel")),
}


def _handler(
    roles: set[str], model: type[BaseModel], decide: Decide
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await act(request, roles, model, decide)

    return operation(f"a move of the change workflow (roles: {', '.join(sorted(roles))})", body=model)(handler)


def add_routes(app: web.Application) -> None:
    """POST /v1/changes/{ref}/<action> for every move, and clearing a linked incident."""
    for name, spec in ACTIONS.items():
        app.router.add_post(f"/v1/changes/{{ref}}/{name}", _handler(*spec))
    clear = _handler(MANAGERS, Clear, _clear)
    app.router.add_post("/v1/changes/{ref}/incidents/{incident}/clear", clear)
