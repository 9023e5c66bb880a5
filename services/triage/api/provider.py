"""Provider incidents over HTTP: one upstream fault and its per-tenant children, read and acted on.

Only provider staff see a provider incident (a client's token gets 404, as for one that does not exist), and
a token limited to some tenants sees and touches only their children. An action on the parent is applied
to each child the token may see, each by its own lifecycle: its own state decides, its own events (under
its own tenant) stop its own clocks, and one child's refusal changes neither it nor its siblings' success.
"""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate, require_role
from libs.errors import ApiError, read_body
from libs.events import utcnow
from libs.openapi import operation
from libs.uow import unit_of_work
from libs.web import respond, snapshot
from services.triage import store
from services.triage.api.commands import ACTS, perform
from services.triage.api.state import RESPONDERS, STATE, incident_json
from services.triage.domain.incident import Incident
from services.triage.events import incident_event
from services.triage.store import TimelineEntry

ACTIONS = ("acknowledge", "resolve", "notes")


def _staff(request: web.Request) -> Principal:
    who = authenticate(request, snapshot(request).tokens)
    if who.tenant is not None:  # a client learns nothing, not even that the parent exists
        raise ApiError(404, "not_found", f"no provider incident {request.match_info['ref']}")
    return who


async def _found(conn: asyncpg.Connection, ref: str, who: Principal, *, lock: bool = False) -> dict[str, Any]:
    """The parent and the children this token may see, as JSON-able parts; 404 if it may see none."""
    found = await store.provider_incident(conn, ref=ref, lock=lock)
    children = [c for c in found[1] if who.can_see(c.tenant)] if found else []
    if found is None or not children:
        raise ApiError(404, "not_found", f"no provider incident {ref}")
    return {"parent": found[0], "children": children}


@operation("a provider-wide fault and the children the token may see")
async def get_provider_incident(request: web.Request) -> web.Response:
    who = _staff(request)
    async with request.app[STATE].pool.acquire() as conn:
        found = await _found(conn, request.match_info["ref"], who)
    return respond(found["parent"] | {"children": [incident_json(c, who) for c in found["children"]]})


def _outcome(child: Incident, refused: ApiError | None) -> dict[str, Any]:
    if refused is None:
        return {"number": child.number, "status": "done", "state": child.state}
    error = {"code": refused.code, "message": refused.message, "details": refused.details}
    return {"number": child.number, "status": "refused", "state": child.state, "error": error}


def provider_action(name: str) -> Any:
    model, act = ACTS[name]

    async def handler(request: web.Request) -> web.Response:
        who = _staff(request)
        require_role(who, RESPONDERS)
        body = await read_body(request, model)
        ref, st = request.match_info["ref"], request.app[STATE]

        async with unit_of_work(st.pool, st.outbox) as tx:
            found = await _found(tx.conn, ref, who, lock=True)
            now, cid = utcnow(), request.headers.get("X-Request-Id")
            changed, steps, results = [], [], []
            for child in found["children"]:
                trial = copy.deepcopy(child)  # a refusal leaves the child exactly as it was
                try:
                    done = perform(act, request, trial, body, who.user, now)
                except ApiError as refused:
                    results.append(_outcome(child, refused))
                    continue
                changed.append(trial)
                steps += [TimelineEntry(trial.id, now, kind, who.user, detail) for kind, detail in done.steps]
                tx.emit(*[incident_event(kind, trial, p, correlation_id=cid) for kind, p in done.events])
                results.append(_outcome(trial, None))
            await store.record_batch(tx.conn, incidents=changed, timeline=steps)
            if changed:  # every child resolved: so is the parent
                await store.settle_provider_incidents(tx.conn, parents=[str(found["parent"]["id"])], at=now)
            after = await _found(tx.conn, ref, who)
        parent = after["parent"] | {"children": [incident_json(c, who) for c in after["children"]]}
        return respond({"provider_incident": parent, "results": results})

    return operation(f"{name} every child the token may see", body=model)(handler)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/provider-incidents/{ref}", get_provider_incident)
    for name in ACTIONS:
        app.router.add_post(f"/v1/provider-incidents/{{ref}}/{name}", provider_action(name))
