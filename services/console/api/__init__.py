"""The console's routes, under /console: pages, forms, fragments, the event stream and static files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.console.api import changes, incident, live, oncall, queue, reports, sessions
from services.console.api.context import PREFIX, page, viewer_or_none

STATIC = Path(__file__).resolve().parent.parent / "static"


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"{PREFIX}/queue" if viewer_or_none(request) else f"{PREFIX}/login")


async def help_page(request: web.Request) -> web.Response:
    return page(request, "help.html", active="help")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PREFIX, home)
    r.add_get(f"{PREFIX}/", home)
    r.add_get(f"{PREFIX}/login", sessions.login_page)
    r.add_post(f"{PREFIX}/login", sessions.login)
    r.add_post(f"{PREFIX}/logout", sessions.logout)
    r.add_post(f"{PREFIX}/theme", sessions.set_theme)
    r.add_get(f"{PREFIX}/help", help_page)
    r.add_get(f"{PREFIX}/queue", queue.queue_page)
    r.add_get(f"{PREFIX}/search", queue.search)
    r.add_get(f"{PREFIX}/fragments/queue", queue.queue_fragment)
    r.add_get(f"{PREFIX}/fragments/rows/{{ref}}", queue.row_fragment)
    r.add_get(f"{PREFIX}/incidents/{{ref}}", incident.incident_page)
    r.add_post(f"{PREFIX}/incidents/{{ref}}/{{action}}", incident.incident_action)
    r.add_get(f"{PREFIX}/changes", changes.calendar_page)
    r.add_get(f"{PREFIX}/changes/new", changes.new_change_page)
    r.add_post(f"{PREFIX}/changes", changes.create_change)
    r.add_get(f"{PREFIX}/changes/{{ref}}", changes.change_page)
    r.add_post(f"{PREFIX}/changes/{{ref}}/{{action}}", changes.change_action)
    r.add_post(f"{PREFIX}/changes/{{ref}}/incidents/{{incident}}/clear", changes.clear_link)
    r.add_get(f"{PREFIX}/oncall", oncall.oncall_page)
    r.add_post(f"{PREFIX}/oncall/overrides", oncall.add_override)
    r.add_post(f"{PREFIX}/oncall/{{schedule}}/overrides/{{override_id}}/remove", oncall.remove_override)
    r.add_get(f"{PREFIX}/reports", reports.reports_page)
    r.add_get(f"{PREFIX}/reports/overview", reports.overview)
    r.add_get(f"{PREFIX}/reports/{{tenant}}", reports.tenant_report)
    r.add_get(f"{PREFIX}/reports/{{tenant}}/{{month}}.html", reports.report_frame)
    r.add_get(f"{PREFIX}/events", live.events)
    r.add_static(f"{PREFIX}/static", STATIC, append_version=False)
