"""Base aiohttp app: /healthz, /readyz, /metrics, request ids, structured access logs, JSON errors, and the
configuration version each request runs with."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from libs.config.live import ConfigSnapshot, LiveConfig
from libs.errors import ApiError
from libs.events import new_id
from libs.faults import is_infrastructure
from libs.openapi import OVERRIDES, document, operation
from libs.text import has_forbidden, path_has_forbidden, scrub

log = structlog.get_logger()

ReadinessCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason
READINESS: web.AppKey[list[tuple[str, ReadinessCheck]]] = web.AppKey("readiness", list)
# Which service this is and which stack instance started it: /readyz says both, so whoever routes to a port
# can tell this service from a stranger (or a leftover of another start) that took it.
IDENTITY: web.AppKey[dict[str, str]] = web.AppKey("identity", dict)

# The process's live configuration (libs/config/live.py), and the version one request runs with: taken once, as
# the request starts, so every check it makes (token, key, tenant, rules) reads the same version.
LIVE: web.AppKey[LiveConfig] = web.AppKey("live_config", LiveConfig)
CONFIG: web.RequestKey[ConfigSnapshot] = web.RequestKey("config", ConfigSnapshot)


@dataclass
class Origin:
    """The base URL people reach this service at: TIERLINE_PUBLIC_URL, else (filled in by libs.runtime.serve
    once it listens) the address it bound. For links sent out of the service (a page's acknowledge link)."""

    url: str | None = None


ORIGIN: web.AppKey[Origin] = web.AppKey("origin", Origin)
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)  # the document, built on first request

REQUESTS = Counter("tierline_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "tierline_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


@web.middleware
async def request_context(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    request_id = request.headers.get("X-Request-Id") or new_id()
    structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=request_id)
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    started = time.perf_counter()
    try:
        response = await handler(request)
    except ApiError as err:
        response = err.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        response = ApiError(exc.status, code, exc.reason, headers=kept).response()
    except Exception as exc:
        if is_infrastructure(exc):  # PostgreSQL or NATS away: the client's request is fine, ask it to retry
            log.warning("http.dependency_unavailable", path=request.path, error=repr(exc))
            response = ApiError(
                503, "dependency_unavailable", "a database or the bus is not answering; retry shortly",
                headers={"Retry-After": "2"},
            ).response()  # fmt: skip
        else:
            log.exception("http.unhandled", path=request.path)
            response = ApiError(500, "internal_error", "unexpected error; see the service log", [request_id]).response()
    finally:
        structlog.contextvars.unbind_contextvars("request_id", "correlation_id")
    response.headers["X-Request-Id"] = request_id
    REQUESTS.labels(route, request.method, str(response.status)).inc()
    LATENCY.labels(route).observe(time.perf_counter() - started)
    return response


def snapshot(request: web.Request) -> ConfigSnapshot:
    """The configuration version this request runs with (the whole request sees this one)."""
    return request[CONFIG]


@web.middleware
async def take_config(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    if (live := request.app.get(LIVE)) is not None:
        request[CONFIG] = live.snapshot
    return await handler(request)


@web.middleware
async def refuse_invalid_characters(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """400 invalid_characters for a NUL, another control character or a lone surrogate in the (decoded) path or
    a query parameter, before any handler sees it: no id, number or filter holds one, and PostgreSQL cannot
    even compare with a NUL (a `GET /v1/incidents/%00` answered 500)."""
    problems = [{"field": "path", "message": "holds a control character"}] if path_has_forbidden(request.path) else []
    problems += [
        {"field": f"query.{scrub(name)}", "message": "holds a control character"}
        for name, value in request.query.items()
        if has_forbidden(name) or has_forbidden(value)
    ]
    if problems:
        raise ApiError(400, "invalid_characters", "the path or query string holds control characters", problems)
    return await handler(request)


def _json_default(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def json_dumps(body: Any) -> str:
    """JSON with times as ISO 8601 and UUIDs/decimals as strings: what every API answers."""
    return json.dumps(body, default=_json_default)


def respond(body: Any, *, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=json_dumps)


@operation("alive", public=True)
async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@operation("ready: the service, stack instance, config version and each readiness check", public=True)
async def readyz(request: web.Request) -> web.Response:
    failing = {}
    for name, check in request.app[READINESS]:
        try:
            reason = await check()
        except Exception as exc:
            reason = repr(exc)
        if reason:
            failing[name] = reason
    who = request.app.get(IDENTITY, {})
    if (snap := request.get(CONFIG)) is not None:  # the same number in every service once a version has spread
        who = who | {"config_version": snap.version}
    if failing:
        return web.json_response({"status": "not ready", **who, "failing": failing}, status=503)
    return web.json_response({"status": "ready", **who, "checks": [n for n, _ in request.app[READINESS]]})


@operation("Prometheus metrics", media="text/plain", public=True)
async def metrics(_: web.Request) -> web.Response:
    resp = web.Response(body=generate_latest())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return resp


@operation("this service's API as OpenAPI 3.1 (libs/openapi.py)", public=True)
async def openapi(request: web.Request) -> web.Response:
    built = request.app[OPENAPI]
    if not built:  # after start-up every route is in place; build once
        title = f"Tierline {request.app.get(IDENTITY, {}).get('service', 'service')}"
        built |= document(request.app, title=title, overrides=request.app.get(OVERRIDES))
    return web.json_response(built)


class _Protocol(RequestHandler):
    """aiohttp's HTTP protocol, answering a request it cannot parse (a request line or header over 8 KiB, a
    malformed one) in the error envelope too: such a request never reaches the app and its middlewares, and
    aiohttp's own answer was a text/plain 400."""

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if not 400 <= status < 500:
            return super().handle_error(request, status, exc, message)
        # The client's fault, and anyone on the network can send it: one warning line, not aiohttp's error-level
        # traceback per request.
        log.warning("http.unreadable_request", status=status, remote=request.remote, error=repr(exc)[:300])
        if request.writer.output_size > 0:  # as aiohttp: an answer has begun, the connection is broken
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        why = "the request could not be read as HTTP: a request line or header over 8 KiB, or malformed"
        response = ApiError(status, "unreadable_request", why).response()
        response.force_close()
        return response


class _Server(Server):
    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    """web.AppRunner whose protocol answers every refusal, even one before the app, in the error envelope."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        # The same server, making _Protocol connections. This leans on aiohttp internals (its Server keeps
        # _loop and _kwargs); should a release drop them, keep aiohttp's own plain-text 400 rather than fail.
        if type(server) is Server and hasattr(server, "_loop") and hasattr(server, "_kwargs"):
            server.__class__ = _Server
        return server


def tls_context(cert_file: object, key_file: object) -> ssl.SSLContext | None:
    """A server TLS context when a certificate and key are configured, else None (plain HTTP)."""
    if not (cert_file and key_file):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def create_app(*, client_max_size: int = 1024**2) -> web.Application:
    """The base every service extends with its routes, cleanup contexts and readiness checks."""
    app = web.Application(
        middlewares=[request_context, take_config, refuse_invalid_characters], client_max_size=client_max_size
    )
    app[READINESS] = []
    app[OPENAPI] = {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    return app
