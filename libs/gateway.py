"""The one base URL of `tierline up`: routes each API prefix to the service that owns it.

It is a convenience for a laptop; in containers each service has its own port and a real load
balancer or ingress does this routing. /readyz here answers for the whole stack.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

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
    "/console": "console",  # the operator console's pages (and `/` redirects there)
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)
PORTS: web.AppKey[dict[str, int]] = web.AppKey("ports", dict)
STOPPING: web.AppKey[list[bool]] = web.AppKey("stopping", list)  # non-empty once the gateway shuts down


def service_for(path: str) -> str | None:
    matches = [p for p in ROUTES if path.startswith(p)]
    return ROUTES[max(matches, key=len)] if matches else None


async def _forward(request: web.Request, service: str, path: str) -> web.StreamResponse:
    port = request.app[PORTS].get(service)
    if port is None:
        raise ApiError(404, "not_found", f"no service {service!r}")
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
        raise ApiError(
            503,
            "service_unavailable",
            f"{service} is not answering (starting or restarting)",
            headers={"Retry-After": "2"},
        ) from None


async def _stream(request: web.Request, url: str, headers: dict[str, str]) -> web.StreamResponse:
    """A server-sent event stream (the console's live updates), passed through as it comes, without a timeout."""
    no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    try:
        upstream = await request.app[SESSION].get(
            url, params=request.query, headers=headers, timeout=no_timeout, allow_redirects=False
        )
    except aiohttp.ClientConnectionError:
        raise ApiError(
            503, "service_unavailable", "the console is not answering", headers={"Retry-After": "2"}
        ) from None
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


async def home(_: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


async def proxy(request: web.Request) -> web.StreamResponse:
    service = service_for(request.path)
    if service is None:
        raise ApiError(404, "not_found", f"no API at {request.path}", [{"prefixes": sorted(ROUTES)}])
    return await _forward(request, service, request.path)


async def per_service(request: web.Request) -> web.StreamResponse:
    """/services/{name}/metrics, /services/{name}/readyz...: one service's own endpoints."""
    return await _forward(request, request.match_info["name"], "/" + request.match_info["tail"])


async def readyz(request: web.Request) -> web.Response:
    async def one(name: str, port: int) -> tuple[str, object]:
        try:
            async with request.app[SESSION].get(
                f"http://127.0.0.1:{port}/readyz", timeout=aiohttp.ClientTimeout(total=2)
            ) as r:
                return name, (await r.json() if r.status == 200 else {"status": "not ready", **(await r.json())})
        except Exception:
            return name, {"status": "not started"}

    ports = request.app[PORTS]
    results = dict(await asyncio.gather(*(one(n, p) for n, p in ports.items())))
    ready = bool(ports) and all(isinstance(v, dict) and v.get("status") == "ready" for v in results.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "services": results}, status=200 if ready else 503
    )


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def create_gateway(ports: dict[str, int]) -> web.Application:
    from libs.web import metrics, request_context

    app = web.Application(middlewares=[request_context], client_max_size=1024**2)
    app[PORTS] = ports

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
    app.router.add_get("/", home)
    app.router.add_route("*", "/services/{name}/{tail:.*}", per_service)
    app.router.add_route("*", "/{tail:.*}", proxy)
    return app
