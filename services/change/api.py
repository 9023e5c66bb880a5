"""Change's HTTP API: create, list, get (with votes and timeline), submit, approve, reject."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from libs.auth import Principal, authenticate
from libs.config import Cab, TierlineConfig
from libs.contracts import ChangeEvent
from libs.errors import ApiError, read_json, validation_error
from libs.events import Envelope, raise_event, utcnow
from libs.lifecycle import IllegalTransition
from libs.outbox import Outbox, run_command
from libs.query import check_query, limit_problems, tenant_scope
from libs.web import respond
from services.change import store
from services.change.domain import (
    STATES,
    ChangeCreate,
    ChangeRefused,
    ChangeRequest,
    Step,
    Vote,
    VoteCast,
    VoteKind,
    cast_vote,
    open_change,
    submit,
)

REQUESTERS = {"provider_admin", "engineer", "change_manager"}
# CAB membership is the real gate for votes; a client_viewer token is read-only whatever its user name.
VOTERS = {"provider_admin", "engineer", "change_manager", "cab_member", "client_approver"}
_REFUSAL_STATUS = {"not_cab_member": 403, "own_change": 403, "already_voted": 409, "illegal_transition": 409}
Decide = Callable[[ChangeRequest, Cab], tuple[Vote | None, list[Step]]]  # (vote to record, steps taken)


@dataclass
class ChangeState:
    pool: asyncpg.Pool
    outbox: Outbox
    config: TierlineConfig
    tokens: dict[str, Principal]


STATE: web.AppKey[ChangeState] = web.AppKey("change", ChangeState)


def change_json(c: ChangeRequest, timeline: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data = asdict(c)
    data.pop("votes")
    if timeline is not None:  # the detail view; lists stay light
        data |= {"approvals": c.approvals, "votes": [asdict(v) for v in c.votes], "timeline": timeline}
    return data


def change_event(c: ChangeRequest, step: Step, correlation_id: str | None) -> Envelope:
    payload = ChangeEvent(
        change_id=c.id,
        number=c.number,
        change_type=c.change_type,
        ci=c.ci,
        title=c.title,
        state=step.to_state,
        from_state=step.from_state,
        by=step.by,
        at=step.at,
        approvals=c.approvals,
        quorum=c.quorum,
        comment=step.comment,
    )
    return raise_event(
        f"change.{step.kind}", payload, source="change", tenant=c.tenant, subject=c.id, correlation_id=correlation_id
    )


async def _body(request: web.Request, model: type[BaseModel], *, optional: bool = False) -> Any:
    raw = await read_json(request) if request.body_exists or not optional else {}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def _invalid(field: str, message: str) -> ApiError:
    details = [{"field": field, "message": message}]
    return ApiError(422, "validation_failed", "the request body failed validation", details)


async def create_change(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens, roles=REQUESTERS)
    body: ChangeCreate = await _body(request, ChangeCreate)
    tenant = st.config.tenant(body.tenant)
    if tenant is None or not who.can_see(tenant.id):
        raise _invalid("tenant", "unknown tenant")
    if body.ci not in tenant.ci_index:
        raise _invalid("ci", f"not one of the tenant's services: {', '.join(sorted(tenant.ci_index))}")

    async def command(conn: asyncpg.Connection) -> tuple[dict[str, Any], list[Envelope]]:
        n = await store.allocate_number(conn, tenant=tenant.id)
        change, step = open_change(
            tenant, body, id=str(uuid.uuid4()), number=f"{tenant.code}-CHG-{n}", by=who.user, at=utcnow()
        )
        await store.insert_change(conn, change=change)
        await store.add_timeline(conn, change_id=change.id, steps=[step])
        body_out = change_json(change, await store.timeline(conn, change_id=change.id))
        return body_out, [change_event(change, step, request.headers.get("X-Request-Id"))]

    return respond(await run_command(st.pool, st.outbox, command), status=201)


async def list_changes(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    q = request.query
    tenants = tenant_scope(who, st.config, q.get("tenant"))
    state, problems = q.get("state"), limit_problems(limit := q.get("limit", "50"))
    if state and state not in STATES:
        problems.append({"field": "state", "message": f"one of {', '.join(STATES)}"})
    check_query(request, {"tenant", "state", "limit"}, problems)
    async with st.pool.acquire() as conn:
        items = await store.list_changes(conn, tenants=tenants, state=state, limit=int(limit))
    return respond({"items": [change_json(c) for c in items]})


async def _visible(conn: asyncpg.Connection, ref: str, who: Principal, *, lock: bool = False) -> ChangeRequest:
    change = await store.get_change(conn, ref=ref, lock=lock)
    if change is None or not who.can_see(change.tenant):
        raise ApiError(404, "not_found", f"no change {ref}")
    return change


async def get_change(request: web.Request) -> web.Response:
    st = request.app[STATE]
    who = authenticate(request, st.tokens)
    async with st.pool.acquire() as conn:
        change = await _visible(conn, request.match_info["ref"], who)
        timeline = await store.timeline(conn, change_id=change.id)
    return respond(change_json(change, timeline))


async def _act(request: web.Request, who: Principal, decide: Decide) -> web.Response:
    """Lock the change, let the rules decide, write state, vote, timeline and events in one transaction."""
    st = request.app[STATE]
    ref = request.match_info["ref"]

    async def command(conn: asyncpg.Connection) -> tuple[dict[str, Any], list[Envelope]]:
        change = await _visible(conn, ref, who, lock=True)
        tenant = st.config.tenant(change.tenant)
        cab = tenant.cab if tenant else Cab()  # a tenant dropped from config has no CAB left to vote
        try:
            ballot, steps = decide(change, cab)
        except (ChangeRefused, IllegalTransition) as exc:
            details = [{"allowed": exc.allowed}] if isinstance(exc, IllegalTransition) else []
            raise ApiError(_REFUSAL_STATUS.get(exc.code, 409), exc.code, str(exc), details) from None
        if ballot:
            await store.add_vote(conn, change_id=change.id, vote=ballot)
        await store.save_state(conn, change=change)
        await store.add_timeline(conn, change_id=change.id, steps=steps)
        cid = request.headers.get("X-Request-Id")
        return change_json(change, await store.timeline(conn, change_id=change.id)), [
            change_event(change, s, cid) for s in steps
        ]

    return respond(await run_command(st.pool, st.outbox, command))


async def submit_change(request: web.Request) -> web.Response:
    who = authenticate(request, request.app[STATE].tokens, roles=REQUESTERS)
    return await _act(request, who, lambda c, _cab: (None, submit(c, by=who.user, at=utcnow())))


async def _vote(request: web.Request, vote: VoteKind) -> web.Response:
    who = authenticate(request, request.app[STATE].tokens, roles=VOTERS)
    body: VoteCast = await _body(request, VoteCast, optional=True)

    def decide(c: ChangeRequest, cab: Cab) -> tuple[Vote | None, list[Step]]:
        return cast_vote(c, voter=who.user, vote=vote, comment=body.comment, cab=cab, at=utcnow())

    return await _act(request, who, decide)


async def approve_change(request: web.Request) -> web.Response:
    return await _vote(request, "approve")


async def reject_change(request: web.Request) -> web.Response:
    return await _vote(request, "reject")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/changes", create_change)
    app.router.add_get("/v1/changes", list_changes)
    app.router.add_get("/v1/changes/{ref}", get_change)
    app.router.add_post("/v1/changes/{ref}/submit", submit_change)
    app.router.add_post("/v1/changes/{ref}/approve", approve_change)
    app.router.add_post("/v1/changes/{ref}/reject", reject_change)
