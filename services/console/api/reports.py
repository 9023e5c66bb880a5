"""Reports: per tenant the monthly HTML report inside the console's frame (fetched by the console with the
session's token, so the browser is never asked for Basic credentials), its breaches linked to their
incidents, and the provider overview."""

from __future__ import annotations

import re
from datetime import date

from aiohttp import web

from libs.events import utcnow
from services.console.api.context import Viewer, page, viewer, visible_tenants
from services.console.api.errors import error_page
from services.console.api.security import REPORT_FRAME_CSP

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _months(today: date, n: int = 6) -> list[str]:
    out, y, m = [], today.year, today.month
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def _month(raw: str | None) -> str:
    month = raw or f"{utcnow():%Y-%m}"
    if not MONTH.match(month):
        raise web.HTTPBadRequest(reason="month must be YYYY-MM")
    return month


def _period(month: str) -> dict[str, str]:
    y, m = int(month[:4]), int(month[5:])
    nxt = f"{y + (m == 12):04d}-{m % 12 + 1:02d}"
    return {"from": f"{month}-01", "to": f"{nxt}-01"}


def _tenant(request: web.Request, v: Viewer) -> tuple[str, str]:
    wanted = request.match_info["tenant"]
    for tid, name in visible_tenants(request, v):
        if tid == wanted:
            return tid, name
    raise web.HTTPNotFound(reason=f"No tenant {wanted!r}")  # the same whether it exists or not


async def reports_page(request: web.Request) -> web.Response:
    v = viewer(request)
    return page(request, "reports.html", tenants=visible_tenants(request, v), months=_months(utcnow().date()),
                active="reports")  # fmt: skip


async def tenant_report(request: web.Request) -> web.Response:
    v = viewer(request)
    tenant, name = _tenant(request, v)
    month = _month(request.query.get("month"))
    figures = await v.get(request, f"/v1/reports/{tenant}", trend="0", **_period(month))
    if not figures.ok:
        return error_page(request, figures)
    return page(request, "report.html", tenant=tenant, name=name, month=month, r=figures.body,
                months=_months(utcnow().date()), active="reports")  # fmt: skip


async def report_frame(request: web.Request) -> web.Response:
    """The reporting service's own page, as it is, for the frame: its inline style allowed here only."""
    v = viewer(request)
    tenant, _ = _tenant(request, v)
    month = _month(request.match_info["month"])
    answer = await v.get(request, f"/v1/reports/{tenant}/monthly/{month}.html")
    if not answer.ok or not isinstance(answer.body, str):
        return error_page(request, answer)
    response = web.Response(text=answer.body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = REPORT_FRAME_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


async def overview(request: web.Request) -> web.Response:
    v = viewer(request)
    month = _month(request.query.get("month"))
    answer = await v.get(request, "/v1/reports", **_period(month))
    if not answer.ok:
        return error_page(request, answer)
    return page(request, "overview.html", month=month, rows=answer.body.get("tenants", []),
                months=_months(utcnow().date()), active="reports")  # fmt: skip
