"""The configuration's API, served by reporting (it keeps the ledger the versions are recorded on): the version in
force and the ones before it (GET /v1/config), and re-reading TIERLINE_CONFIG to apply it (POST /v1/config/reload).
Provider admins only; neither ever shows the file, a key or a token (docs/configuration.md)."""

from __future__ import annotations

from aiohttp import web

from libs.auth import authenticate
from libs.config.apply import apply, check_file
from libs.config.bucket import ConfigConflict
from libs.errors import ApiError
from libs.openapi import operation
from libs.web import LIVE, respond, snapshot
from services.reporting import store
from services.reporting.api import STATE

ADMINS = {"provider_admin"}
HISTORY = 20


@operation("the config version in force and the last versions applied (provider admins)")
async def get_config(request: web.Request) -> web.Response:
    authenticate(request, snapshot(request).tokens, roles=ADMINS)
    async with request.app[STATE].pool.acquire() as conn:
        history = await store.config_history(conn, limit=HISTORY)
    return respond({**snapshot(request).about(), "history": history})


@operation("re-read TIERLINE_CONFIG, check it, apply it (provider admins)")
async def reload_config(request: web.Request) -> web.Response:
    """Re-read this service's TIERLINE_CONFIG, check it as `tierline config check` does, apply it: 200 with the
    version (and whether anything changed), or 422 with every error and nothing changed."""
    who = authenticate(request, snapshot(request).tokens, roles=ADMINS)
    live, path = request.app[LIVE], request.app[STATE].config_file
    checked = check_file(path)
    if checked.config is None:
        details = [{"field": p.where, "message": p.message} for p in checked.errors]
        raise ApiError(422, "invalid_config", f"{path}: {len(details)} error(s); nothing changed", details)
    assert live.bucket is not None and live.bus is not None, "a served process follows the config bucket"
    try:
        done = await apply(live.bucket, live.bus, checked, applied_by=who.user, via="api")
    except ConfigConflict as exc:
        raise ApiError(409, "config_conflict", f"{exc}; nothing changed, reload again") from None
    await live.reached(done.version)  # this service answers on the version it applied
    body = {"version": done.version, "changed": done.changed, "changes": done.changes, "warnings": checked.warnings}
    return respond(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/config", get_config)
    app.router.add_post("/v1/config/reload", reload_config)
