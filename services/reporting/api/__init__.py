"""Reporting's HTTP API: service reports (JSON, CSV, printable HTML), the provider overview, one incident's
SLA explained, and the latest ledger rows. Everything is computed from the ledger when asked."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from libs.auth import authenticate
from libs.config import Tenant
from libs.errors import ApiError
from libs.events import utcnow
from libs.openapi import operation
from libs.query import check_query, limit_problems, whole
from libs.web import respond, snapshot
from services.reporting import store
from services.reporting.api import html
from services.reporting.api.spreadsheet import to_csv
from services.reporting.domain.explain import explain
from services.reporting.domain.period import InvalidPeriod, Period, month_period, previous_periods, resolve_period
from services.reporting.domain.report import build, headline
from services.reporting.domain.stories import incident_stories

MONTH = re.compile(r"^(\d{4})-(\d{2})\.html$")
MAX_TREND = 12


@dataclass
class ReportingState:
    pool: asyncpg.Pool
    config_file: Path  # TIERLINE_CONFIG, which POST /v1/config/reload re-reads


STATE: web.AppKey[ReportingState] = web.AppKey("reporting", ReportingState)


def _visible_tenant(request: web.Request, st: ReportingState) -> Tenant:
    who = authenticate(request, snapshot(request).tokens)
    tenant = snapshot(request).config.tenant(request.match_info["tenant"])
    # Unknown and not-yours answer alike, so a client token cannot probe which tenants exist.
    if tenant is None or not who.can_see(tenant.id):
        raise ApiError(404, "not_found", f"no tenant {request.match_info['tenant']}")
    return tenant


def _period(request: web.Request, now: datetime) -> Period:
    try:
        return resolve_period(request.query.get("from"), request.query.get("to"), now=now)
    except InvalidPeriod as exc:
        raise ApiError(400, "invalid_query", "invalid query parameters", exc.details) from None


def _trend(request: web.Request, default: int) -> int:
    raw = request.query.get("trend", str(default))
    if (n := whole(raw, most=MAX_TREND)) is None:
        raise ApiError(
            400,
            "invalid_query",
            "invalid query parameters",
            [{"field": "trend", "message": f"previous periods to compare, 0 to {MAX_TREND}"}],
        )
    return n


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector off while a report's events are decoded and replayed: they are millions of
    young objects none of which is garbage until the report is done, and the collector kept walking them (about
    half the CPU of a month of 200,000 incidents). Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:  # a report that started while another had it off leaves it to that one
            gc.enable()


async def compute(st: ReportingState, tenant: Tenant, period: Period) -> dict[str, Any]:
    # Every priority that is downtime under some version in force during the period.
    spans = tenant.contracts_between(period.start, period.end)
    downtime = sorted({p for s in spans for p in s.contract.availability.downtime_priorities})
    # One snapshot: the incident and change events (and the row count) as of the same commit.
    with no_cycle_collection():
        async with st.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            now = utcnow()
            ledger = await store.ledger_slice(
                conn, tenant=tenant.id, start=period.start, end=period.end, downtime=downtime, measured_to=now
            )
        return build(tenant, period, ledger, as_of=now)


async def with_trend(st: ReportingState, tenant: Tenant, period: Period, n: int) -> tuple[dict, list[dict]]:
    report = await compute(st, tenant, period)
    earlier = [headline(await compute(st, tenant, p)) for p in previous_periods(period, n)]
    return report, [*earlier, headline(report)]


def _format(request: web.Request, allowed: tuple[str, ...] = ("json", "csv")) -> str:
    fmt = request.query.get("format", "json")
    if fmt not in allowed:
        raise ApiError(
            400, "invalid_query", "invalid query parameters", [{"field": "format", "message": " or ".join(allowed)}]
        )
    return fmt


def _csv(body: dict[str, Any], name: str) -> web.Response:
    return web.Response(
        text=to_csv(body),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _html(page: str) -> web.Response:
    return web.Response(text=page, content_type="text/html", charset="utf-8")


@operation(
    "the service report (JSON or CSV)", query={"from": None, "to": None, "format": ("json", "csv"), "trend": None}
)
async def get_report(request: web.Request) -> web.Response:
    st = request.app[STATE]
    tenant = _visible_tenant(request, st)
    check_query(request, {"from", "to", "format", "trend"})
    now, fmt, n = utcnow(), _format(request), _trend(request, 3)
    period = _period(request, now)
    report, trend = await with_trend(st, tenant, period, n)
    body = {**report, "generated_at": now, "trend": trend}
    if fmt == "csv":
        return _csv(body, f"{tenant.id}-{period.start:%Y-%m-%d}")
    return respond(body)


@operation("the printable monthly report (YYYY-MM.html)", media="text/html")
async def get_monthly_html(request: web.Request) -> web.Response:
    st = request.app[STATE]
    tenant = _visible_tenant(request, st)
    check_query(request, set())
    m = MONTH.match(request.match_info["month"])
    if not m or not 1 <= int(m[2]) <= 12:
        raise ApiError(404, "not_found", "a monthly report is at /v1/reports/{tenant}/monthly/YYYY-MM.html")
    period = month_period(int(m[1]), int(m[2]))
    report, trend = await with_trend(st, tenant, period, 5)
    page = html.render(report, trend, provider=snapshot(request).config.provider, month=f"{period.start:%B %Y}")
    return _html(page)


@operation(
    "every visible tenant's headline figures", query={"from": None, "to": None, "format": ("json", "csv", "html")}
)
async def get_overview(request: web.Request) -> web.Response:
    """Every tenant the token may see, side by side: the provider's managers' view (JSON, CSV or a page)."""
    st = request.app[STATE]
    who = authenticate(request, snapshot(request).tokens)
    check_query(request, {"from", "to", "format"})
    now, fmt = utcnow(), _format(request, ("json", "csv", "html"))
    period = _period(request, now)
    reports = [await compute(st, t, period) for t in snapshot(request).config.tenants if who.can_see(t.id)]
    if fmt == "html":
        whole_month = period == month_period(period.start.year, period.start.month)
        page = html.render_overview(
            reports,
            provider=snapshot(request).config.provider.name,
            period=f"{period.start:%B %Y}"
            if whole_month
            else f"{period.start:%d %b %Y} to {period.end:%d %b %Y} (UTC)",
            month=f"{period.start:%Y-%m}" if whole_month else None,
        )
        return _html(page)
    rows = []
    for report in reports:
        credit = report["availability"].get("service_credit")
        rows.append(
            {
                "tenant": report["tenant"],
                "name": report["name"],
                **headline(report),
                "service_credit": credit["amount"] if credit else None,
            }
        )
    body = {"period": {"from": period.start, "to": period.end}, "generated_at": now, "tenants": rows}
    if fmt == "csv":
        return _csv(body, f"overview-{period.start:%Y-%m-%d}")
    return respond(body)


@operation("one incident's SLA clocks explained from the ledger")
async def get_incident_sla(request: web.Request) -> web.Response:
    st = request.app[STATE]
    tenant = _visible_tenant(request, st)
    check_query(request, set())
    async with st.pool.acquire() as conn:
        events = await store.incident_events(conn, tenant=tenant.id, ref=request.match_info["ref"])
    story = next(iter(incident_stories(events).values()), None)
    if story is None:
        raise ApiError(404, "not_found", f"no incident {request.match_info['ref']} in the ledger of {tenant.id}")
    return respond({"tenant": tenant.id, **explain(story)})


@operation("the latest SLA ledger events", query={"limit": None})
async def get_ledger(request: web.Request) -> web.Response:
    st = request.app[STATE]
    tenant = _visible_tenant(request, st)
    limit = request.query.get("limit", "50")
    check_query(request, {"limit"}, limit_problems(limit))
    async with st.pool.acquire() as conn:
        items = await store.latest(conn, tenant=tenant.id, limit=int(limit))
    return respond({"tenant": tenant.id, "items": [asdict(i) for i in items]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/reports", get_overview)
    app.router.add_get("/v1/reports/{tenant}", get_report)
    app.router.add_get("/v1/reports/{tenant}/monthly/{month}", get_monthly_html)
    app.router.add_get("/v1/reports/{tenant}/incidents/{ref}/sla", get_incident_sla)
    app.router.add_get("/v1/ledger/{tenant}", get_ledger)
