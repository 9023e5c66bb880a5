"""The console's routes, under /console: pages, forms, fragments, the event stream and static files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from libs.openapi import operation
from services.console.api import changes, incident, live, oncall, queue, reports, sessions
from services.console.api.context import PREFIX, page, viewer_or_none
from services.console.domain.queue import CHOICES, FIELDS

H = TypeVar("H", bound=Callable[..., Any])
STATIC = Path(__file__).resolve().parent.parent / "static"


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"{PREFIX}/queue" if viewer_or_none(request) else f"{PREFIX}/login")


FILES = {f.name: f for f in STATIC.iterdir() if f.is_file()}


async def static_file(request: web.Request) -> web.StreamResponse:
    """One of the files shipped in static/, by name; anything else is the console's 404 page (aiohttp's own static
    route answered an empty 404 no middleware could turn into one)."""
    if (path := FILES.get(request.match_info["filename"])) is None:
        raise web.HTTPNotFound(reason="no such file")
    return web.FileResponse(path)


async def help_page(request: web.Request) -> web.Response:
    return page(request, "help.html", active="help")


def _page(summary: str, **kw: Any) -> Callable[[H], H]:
    """A console route in /openapi.json: HTML (or a redirect) for a signed-in browser; forms carry `csrf`."""
    if "form" in kw:
        kw["form"] = ("csrf", *kw["form"])
    return operation(summary, media=kw.pop("media", "text/html"), pages=True, **kw)


ACTION_FIELDS = ("reason", "comment", "resolution_code", "first_contact", "note", "assignee", "priority", "text",
                 "internal", "risk", "impact", "implementer", "override_reason", "rollback", "planned_start",
                 "planned_end", "next")  # fmt: skip
CHANGE_FIELDS = ("tenant", "change_type", "template", "title", "cis", "description", "implementer", "rollback_plan",
                 "planned_start", "planned_end")  # fmt: skip
MONTH = {"month": None}
QUEUE_QUERY = {name: CHOICES.get(name) for name in FIELDS}


def add_routes(app: web.Application) -> None:
    r, p = app.router, _page
    r.add_get(PREFIX, p("to the queue, or to sign in", ok=302, public=True)(home))
    r.add_get(f"{PREFIX}/", home)
    r.add_get(f"{PREFIX}/login", p("the sign-in page", query={"next": None}, public=True)(sessions.login_page))
    r.add_post(f"{PREFIX}/login", p("sign in with an API token", form=("token", "next"), ok=303, public=True)(
        sessions.login))  # fmt: skip
    r.add_post(f"{PREFIX}/logout", p("sign out", form=(), ok=303)(sessions.logout))
    r.add_post(f"{PREFIX}/theme", p("dark or light", form=("theme", "next"), ok=303)(sessions.set_theme))
    r.add_get(f"{PREFIX}/help", p("keys and help")(help_page))
    r.add_get(f"{PREFIX}/queue", p("the live queue", query=QUEUE_QUERY)(queue.queue_page))
    r.add_get(f"{PREFIX}/search", p("find an incident by number or words", query={"q": None})(queue.search))
    r.add_get(f"{PREFIX}/fragments/queue", p("the queue's rows", query=QUEUE_QUERY)(queue.queue_fragment))
    r.add_get(f"{PREFIX}/fragments/rows/{{ref}}", p("one queue row")(queue.row_fragment))
    r.add_get(f"{PREFIX}/incidents/{{ref}}", p("an incident's page")(incident.incident_page))
    r.add_post(f"{PREFIX}/incidents/{{ref}}/{{action}}", p("an incident action", form=ACTION_FIELDS, ok=303)(
        incident.incident_action))  # fmt: skip
    r.add_get(
        f"{PREFIX}/changes",
        p("the change calendar", query={"view": None, "date": None, "tenant": None})(changes.calendar_page),
    )
    r.add_get(f"{PREFIX}/changes/new", p("the new change form", query={"type": None})(changes.new_change_page))
    r.add_post(f"{PREFIX}/changes", p("raise a change", form=CHANGE_FIELDS, ok=303)(changes.create_change))
    r.add_get(f"{PREFIX}/changes/{{ref}}", p("a change's page")(changes.change_page))
    r.add_post(f"{PREFIX}/changes/{{ref}}/{{action}}", p("a change move", form=ACTION_FIELDS, ok=303)(
        changes.change_action))  # fmt: skip
    r.add_post(f"{PREFIX}/changes/{{ref}}/incidents/{{incident}}/clear", p("clear a linked incident", form=("reason",),
               ok=303)(changes.clear_link))  # fmt: skip
    r.add_get(f"{PREFIX}/oncall", p("who is on call, the week's shifts", query={"date": None})(oncall.oncall_page))
    r.add_post(f"{PREFIX}/oncall/overrides", p("add an override", form=("schedule", "date", "user", "start", "end",
               "note"), ok=303)(oncall.add_override))  # fmt: skip
    r.add_post(f"{PREFIX}/oncall/{{schedule}}/overrides/{{override_id}}/remove", p("remove an override", form=("date",),
               ok=303)(oncall.remove_override))  # fmt: skip
    r.add_get(f"{PREFIX}/reports", p("the reports")(reports.reports_page))
    r.add_get(f"{PREFIX}/reports/overview", p("the provider overview", query=MONTH)(reports.overview))
    r.add_get(f"{PREFIX}/reports/{{tenant}}", p("a tenant's report", query=MONTH)(reports.tenant_report))
    r.add_get(f"{PREFIX}/reports/{{tenant}}/{{month}}.html", p("the printable report, framed")(reports.report_frame))
    r.add_get(f"{PREFIX}/events", p("live updates (server-sent events)", media="text/event-stream")(live.events))
    r.add_get(f"{PREFIX}/static/{{filename}}", p("the console's CSS, script and icon", media="text/css")(static_file))
