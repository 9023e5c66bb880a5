"""The one base URL of `tierline up`: routes each API prefix to the service that owns it.

It is a convenience for a laptop; in containers each service has its own port and a real load
balancer or ingress does this routing. /readyz here answers for the whole stack.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict

from libs.errors import ApiError
from libs.openapi import document, merge, operation
from libs.service import ServiceSpec

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)
STOPPING: web.AppKey[list[bool]] = web.AppKey("stopping", list)  # non-empty once the gateway shuts down
log = structlog.get_logger()


class Routes:
    """Where each service listens now, as its supervisor learnt it, and which of those ports the gateway has seen
    answer as that service of this stack instance. Nothing is forwarded to a port not seen so: after a crash a
    stranger may hold the old one, and it must get neither requests nor bearer tokens."""

    def __init__(
        self, services: Iterable[str], instance: str, *, prefixes: Mapping[str, str] | None = None, home: str = "/"
    ) -> None:
        self.services, self.instance = tuple(services), instance
        self.prefixes = dict(prefixes or {})  # API path prefix -> the service that serves it (longest wins)
        self.home = home  # where `/` redirects (a service's page, e.g. the console)
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


def service_for(prefixes: Mapping[str, str], path: str) -> str | None:
    """The service serving `path`: the one with the longest prefix of it."""
    matches = [p for p in prefixes if path.startswith(p)]
    return prefixes[max(matches, key=len)] if matches else None


def routes_of(specs: Iterable[ServiceSpec], instance: str) -> Routes:
    """A stack's routing table, from what each service declares (libs/service.py)."""
    specs = list(specs)
    prefixes = {prefix: s.name for s in specs for prefix in s.prefixes}
    home = next((s.home for s in specs if s.home), "/")
    return Routes([s.name for s in specs], instance, prefixes=prefixes, home=home)


def _unavailable(service: str, why: str) -> ApiError:
    return ApiError(503, "service_unavailable", f"{service} {why}", headers={"Retry-After": "2"})


async def _forward(request: web.Request, service: str, path: str) -> web.StreamResponse:
    routes = request.app[ROUTES_KEY]
    if service not in routes.services:
        raise ApiError(404, "not_found", f"no service {service!r}")
    port = await routes.port(request.app[SESSION], service)
    if port is None:
        raise _unavailable(service, "is not answering as itself (starting or restarting)")
    url = f"http://127.0.0.1:{port}{path}"
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"x-forwarded-proto"}}
    headers["X-Forwarded-Proto"] = request.scheme  # the console marks its cookie Secure behind TLS
    if request.method == "GET" and "text/event-stream" in request.headers.get("Accept", ""):
        return await _stream(request, url, headers)
    try:
        async with request.app[SESSION].request(
            request.method, url, params=request.query, headers=headers, data=await request.read(), allow_redirects=False
        ) as upstream:
            body = await upstream.read()
            # A multidict: several Set-Cookie headers (the console's sign-in) must all pass.
            out = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP)
            return web.Response(status=upstream.status, body=body, headers=out)
    except aiohttp.ClientConnectionError:
        raise _unavailable(service, "is not answering (starting or restarting)") from None


async def _stream(request: web.Request, url: str, headers: dict[str, str]) -> web.StreamResponse:
    """A server-sent event stream (the console's live updates), passed through as it comes, without a timeout."""
    no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    try:
        upstream = await request.app[SESSION].get(
            url, params=request.query, headers=headers, timeout=no_timeout, allow_redirects=False
        )
    except aiohttp.ClientConnectionError:
        raise _unavailable("the console", "is not answering") from None
    async with upstream:
        out = web.StreamResponse(status=upstream.status)
        out.headers.update({k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP})
        await out.prepare(request)
        with contextlib.suppress(aiohttp.ClientError, ConnectionResetError):
            while not request.app[STOPPING]:
                try:
                    async with asyncio.timeout(1.0):
                        chunk = await upstream.content.readany()
                except TimeoutError:  # quiet: is the browser still there? (it may have left between pings)
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                if not chunk:
                    break
                await out.write(chunk)
        return out


@operation("to the console's page", ok=302, public=True)
async def home(request: web.Request) -> web.Response:
    target = request.app[ROUTES_KEY].home
    if target == "/":
        raise ApiError(404, "not_found", "nothing at /; the APIs are under /v1/")
    raise web.HTTPFound(target)


@operation("forwarded to the service owning the path's prefix", hidden=True)
async def proxy(request: web.Request) -> web.StreamResponse:
    prefixes = request.app[ROUTES_KEY].prefixes
    service = service_for(prefixes, request.path)
    if service is None:
        raise ApiError(404, "not_found", f"no API at {request.path}", [{"prefixes": sorted(prefixes)}])
    return await _forward(request, service, request.path)


@operation("one service's own endpoint: /services/{name}/metrics, /readyz, /healthz, /openapi.json")
async def per_service(request: web.Request) -> web.StreamResponse:
    """/services/{name}/metrics, /services/{name}/readyz...: one service's own endpoints."""
    return await _forward(request, request.match_info["name"], "/" + request.match_info["tail"])


@operation("ready only when every service answers as itself and is ready", public=True)
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


@operation("alive", public=True)
async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@operation("every service's API in one OpenAPI 3.1 document (each service's own, merged)", public=True)
async def openapi(request: web.Request) -> web.Response:
    """Asked of every service each time (a restarted one may run newer code); 503 while one is not answering."""
    routes, session = request.app[ROUTES_KEY], request.app[SESSION]

    async def one(name: str) -> tuple[str, dict[str, Any] | None]:
        port = await routes.port(session, name)
        if port is None:
            return name, None
        try:
            async with session.get(f"http://127.0.0.1:{port}/openapi.json") as r:
                return name, (await r.json()) if r.status == 200 else None
        except (aiohttp.ClientError, ValueError):
            return name, None

    docs = dict(await asyncio.gather(*(one(n) for n in routes.services)))
    if missing := sorted(n for n, d in docs.items() if d is None):
        raise _unavailable(", ".join(missing), "did not describe its API (starting or restarting)")
    own = document(request.app, title="Tierline")
    return web.json_response(merge(docs, lambda path: service_for(routes.prefixes, path), own))  # type: ignore[arg-type]


def create_gateway(routes: Routes) -> web.Application:
    from libs.web import metrics, refuse_invalid_characters, request_context

    app = web.Application(middlewares=[request_context, refuse_invalid_characters], client_max_size=1024**2)
    app[ROUTES_KEY] = routes

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        # No cookie jar: the gateway passes each user's cookies through and must never keep one for the next
        # request; and redirects go back to the browser, which follows them itself.
        app[SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512), cookie_jar=aiohttp.DummyCookieJar()
        )
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session_ctx)
    app[STOPPING] = []

    async def end_streams(app: web.Application) -> None:  # open event streams end within a second
        app[STOPPING].append(True)

    app.on_shutdown.append(end_streams)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)  # the gateway's own; each service's at /services/{name}/metrics
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/", home)
    app.router.add_route("*", "/services/{name}/{tail:.*}", per_service)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app
