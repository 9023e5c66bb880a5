"""Triage's HTTP API: incidents read (incidents.py) and worked (commands.py), provider incidents (provider.py),
heartbeats and their status (heartbeats.py), request bodies (schemas.py), what the handlers share (state.py),
and the dead-letter stream's list and replay (libs/deadletters.py, served from here)."""

from __future__ import annotations

from aiohttp import web

from libs import deadletters
from libs.bus import Bus
from services.triage.api import provider
from services.triage.api.commands import ROUTES, create_incident
from services.triage.api.heartbeats import list_heartbeats
from services.triage.api.incidents import get_incident, list_incidents, suppressed_alerts

# GET /v1/heartbeats is triage's; POST /v1/heartbeats/{name} is intake's (the longer prefix wins at the gateway).
PREFIXES = ("/v1/incidents", "/v1/alerts/", "/v1/provider-incidents", "/v1/deadletters", "/v1/heartbeats")


def add_routes(app: web.Application, bus: Bus) -> None:
    app.router.add_get("/v1/incidents", list_incidents)
    app.router.add_post("/v1/incidents", create_incident)
    app.router.add_get("/v1/alerts/suppressed", suppressed_alerts)
    app.router.add_get("/v1/heartbeats", list_heartbeats)
    app.router.add_get("/v1/incidents/{ref}", get_incident)
    for name, handler in ROUTES.items():
        app.router.add_post(f"/v1/incidents/{{ref}}/{name}", handler)
    provider.add_routes(app)
    deadletters.add_routes(app, bus)
