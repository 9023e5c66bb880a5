"""Reporting's HTTP API: a tenant's service report for a period, and its latest ledger rows."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from libs.auth import Principal, authenticate
from libs.config import TierlineConfig
from libs.errors import ApiError
from libs.events import utcnow
from libs.query import check_query, limit_problems
from libs.web import respond
from services.reporting import store
from services.reporting.domain import InvalidPeriod, resolve_period, summarise


@dataclass
class ReportingState:
    pool: asyncpg.Pool
    config: TierlineConfig
    tokens: dict[str, Principal]


STATE: web.AppKey[ReportingState] = web.AppKey("reporting", ReportingState)


def _visible_tenant(request: web.Request, st: ReportingState) -> str:
    who = authenticate(request, st.tokens)
    tenant = request.match_info["tenant"]
    # Unknown and not-yours answer alike, so a client token cannot probe which tenants exist.
    if st.config.tenant(tenant) is None or not who.can_see(tenant):
        raise ApiError(404, "not_found", f"no tenant {tenant}")
    return tenant


async def get_report(request: web.Request) -> web.Response:
    st = request.app[STATE]
    tenant = _visible_tenant(request, st)
    check_query(request, {"from", "to"})
    now = utcnow()
    try:
        period = resolve_period(request.query.get("from"), request.query.get("to"), now=now)
    except InvalidPeriod as exc:
        raise ApiError(400, "invalid_query", "invalid query parameters", exc.details) from None
    async with st.pool.acquire() as conn:
        figures, breaches = await store.report(conn, tenant=tenant, start=period.start, end=period.end)
    body = {
        "tenant": tenant,
        "period": {"from": period.start, "to": period.end},
        "generated_at": now,
        **summarise(figures),
        "breaches": breaches,
    }
    return respond(body)


async def get_ledger(request: web.Request) -> web.Response:
    st = request.app[STATE]
    tenant = _visible_tenant(request, st)
    limit = request.query.get("limit", "50")
    check_query(request, {"limit"}, limit_problems(limit))
    async with st.pool.acquire() as conn:
        items = await store.latest(conn, tenant=tenant, limit=int(limit))
    return respond({"tenant": tenant, "items": items})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/reports/{tenant}", get_report)
    app.router.add_get("/v1/ledger/{tenant}", get_ledger)
