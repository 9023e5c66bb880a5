"""Change's HTTP API: raising, listing and reading changes and the calendar (changes.py), the workflow's moves
(moves.py), with the request bodies (schemas.py), the views (views.py), and what every handler shares: state,
roles, and the mapping of the domain's refusals to HTTP answers (context.py)."""

from __future__ import annotations

from aiohttp import web

from services.change.api import changes, moves


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/changes", changes.create_change)
    app.router.add_get("/v1/changes", changes.list_changes)
    app.router.add_get("/v1/changes/calendar", changes.calendar)  # before {ref}, which would match it
    app.router.add_get("/v1/changes/{ref}", changes.get_change)
    moves.add_routes(app)
