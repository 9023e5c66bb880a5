"""The one base URL of `tierline up`: routes each API prefix to the service that owns it.

It is a convenience for a laptop; in containers each service has its own port and a real load
balancer or ingress does this routing. /readyz here answers for the whole stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from libs.errors import ApiError

# API prefix -> owning service. Longest prefix wins.
ROUTES = {
    "/v1/webhooks/": "intake",
    "/v2/": "intake",  # PagerDuty Events API v2 paths, so a PagerDuty client needs only the base URL changed
    "/openapi.json": "intake",
    "/v1/incidents": "triage",
    "/v1/alerts/": "triage",
    "/v1/provider-incidents": "triage",
    "/v1/sla/": "escalation",
    "/v1/changes": "change",
    "/v1/reports": "reporting",
    "/v1/ledger/": "reporting",
    "/v1/deadletters": "triage",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)
log = structlog.get_logger()


class Routes:
    """Where each service listens now, as its supervisor learnt it, and which of those ports the gateway has seen
    answer as that service of this stack instance. Nothing is forwarded to a port not seen so: after a crash a
    stranger may hold the old one, and it must get neither requests nor bearer tokens."""

    def __init__(self, services: Iterable[str], instance: str) -> None:
        self.services, self.instance = tuple(services), instance
        self.ports: dict[str, int] = {}
        self._verified: dict[str, int] = {}

    def set(self, service: str, port: int) -> None:
        """The service's process reported it listens on `port`."""
        self.ports[service] = port

    def drop(self, service: str) -> None:
        """The service's process exited: its port may be anyone's from now on."""
        self.ports.pop(service, None)
        self._verified.pop(service, None)

    async def port(self, session: aiohttp.ClientSession, service: str) -> int | None:
        """The service's port once its /readyz names this service and instance, else None."""
        port = self.ports.get(service)
        if port is None:
            return None
        if self._verified.get(service) != port:
            body = await identify(session, port)
            if (body.get("service"), body.get("instance")) != (service, self.instance):
                log.warning("gateway.not_itself", service=service, port=port, answered=str(body)[:200])
                return None
            self._verified[service] = port
        return port


async def identify(session: aiohttp.ClientSession, port: int) -> dict[str, Any]:
    """What the process on `port` says it is: its /readyz body (any status), or {} if it says nothing usable."""
    try:
        async with session.get(f"http://127.0.0.1:{port}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
            body = await r.json(content_type=None)
            return body if isinstance(body, dict) else {}
    except Exception:
        return {}


ROUTES_KEY: web.AppKey[Routes] = web.AppKey("routes", Routes)


def service_for(path: str) -> str | None:
    matches = [p for p in ROUTES if path.startswith(p)]
    return ROUTES[max(matches, key=len)] if matches else None


def _unavailable(service: str, why: str) -> ApiError:
    return ApiError(503, "service_unavailable", f"{service} {why}", headers={"Retry-After": "2"})


async def _forward(request: web.Request, service: str, path: str) -> web.Response:
    routes = request.app[ROUTES_KEY]
    if service not in routes.services:
        raise ApiError(404, "not_found", f"no service {service!r}")
    port = await routes.port(request.app[SESSION], service)
    if port is None:
        raise _unavailable(service, "is not answering as itself (starting or restarting)")
    url = f"http://127.0.0.1:{port}{path}"
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    try:
        async with request.app[SESSION].request(
            request.method, url, params=request.query, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, body=body, headers=out)
    except aiohttp.ClientConnectionError:
        raise _unavailable(service, "is not answering (starting or restarting)") from None


async def proxy(request: web.Request) -> web.Response:
    service = service_for(request.path)
    if service is None:
        raise ApiError(404, "not_found", f"no API at {request.path}", [{"prefixes": sorted(ROUTES)}])
    return await _forward(request, service, request.path)


async def per_service(request: web.Request) -> web.Response:
    """/services/{name}/metrics, /services/{name}/readyz...: one service's own endpoints."""
    return await _forward(request, request.match_info["name"], "/" + request.match_info["tail"])


async def readyz(request: web.Request) -> web.Response:
    """Ready only when every service answers on the port its process reported, as itself, and ready."""
    routes, session = request.app[ROUTES_KEY], request.app[SESSION]

    async def one(name: str) -> tuple[str, dict[str, Any]]:
        port = routes.ports.get(name)
        if port is None:
            return name, {"status": "not started"}
        body = await identify(session, port)
        if (body.get("service"), body.get("instance")) != (name, routes.instance):
            return name, {"status": "not answering as itself", "port": port}
        return name, body | {"port": port}

    results = dict(await asyncio.gather(*(one(n) for n in routes.services)))
    ready = bool(results) and all(v.get("status") == "ready" for v in results.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "instance": routes.instance, "services": results},
        status=200 if ready else 503,
    )


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def create_gateway(routes: Routes) -> web.Application:
    from libs.web import metrics, refuse_invalid_characters, request_context

    app = web.Application(middlewares=[request_context, refuse_invalid_characters], client_max_size=1024**2)
    app[ROUTES_KEY] = routes

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)  # the gateway's own; each service's at /services/{name}/metrics
    app.router.add_route("*", "/services/{name}/{tail:.*}", per_service)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app
