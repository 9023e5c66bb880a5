"""The base aiohttp app: health, readiness, metrics, request ids and the JSON error shape."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
import structlog.testing
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from libs.errors import ApiError
from libs.web import READINESS, Runner, create_app


class Readiness:
    def __init__(self) -> None:
        self.reason: str | None = None

    async def __call__(self) -> str | None:
        return self.reason


async def boom(_: web.Request) -> web.Response:
    raise RuntimeError("kaboom")


async def conflict(_: web.Request) -> web.Response:
    raise ApiError(409, "already_done", "it is done", ["x"])


@pytest.fixture
def db_check() -> Readiness:
    return Readiness()


@pytest.fixture
async def client(db_check):
    app = create_app()
    app[READINESS].append(("bus", Readiness()))
    app[READINESS].append(("db", db_check))
    app.router.add_get("/boom", boom)
    app.router.add_post("/conflict", conflict)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status == 200
    assert await r.json() == {"status": "alive"}


async def test_readyz_names_the_failing_check(client, db_check):
    r = await client.get("/readyz")
    assert r.status == 200
    assert await r.json() == {"status": "ready", "checks": ["bus", "db"]}

    db_check.reason = "2 migrations pending"
    r = await client.get("/readyz")
    assert r.status == 503
    assert await r.json() == {"status": "not ready", "failing": {"db": "2 migrations pending"}}

    db_check.reason = None
    assert (await client.get("/readyz")).status == 200


async def test_readyz_counts_a_raising_check_as_failing(client):
    async def broken() -> str | None:
        raise ConnectionError("refused")

    client.app[READINESS].append(("nats", broken))
    r = await client.get("/readyz")
    assert r.status == 503
    assert "refused" in (await r.json())["failing"]["nats"]


async def test_metrics_exposes_request_counter(client):
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status == 200
    assert r.content_type == "text/plain"
    text = await r.text()
    assert "# TYPE tierline_http_requests_total counter" in text
    assert re.search(r'tierline_http_requests_total\{[^}]*route="/healthz"[^}]*status="200"[^}]*\} \d', text)


async def test_request_id_is_echoed(client):
    r = await client.get("/healthz", headers={"X-Request-Id": "req-42"})
    assert r.headers["X-Request-Id"] == "req-42"


async def test_request_id_is_generated_when_absent(client):
    first = (await client.get("/healthz")).headers["X-Request-Id"]
    second = (await client.get("/healthz")).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


async def test_unknown_route_is_a_json_404(client):
    r = await client.get("/no/such/route", headers={"X-Request-Id": "req-404"})
    assert r.status == 404
    assert r.headers["X-Request-Id"] == "req-404"
    body = await r.json()
    assert body["error"]["code"] == "not_found"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["details"] == []
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}


async def test_wrong_method_is_a_json_405(client):
    r = await client.post("/healthz")
    assert r.status == 405
    assert (await r.json())["error"]["code"] == "method_not_allowed"


async def test_405_keeps_the_allow_header(client):
    # RFC 9110 15.5.6: a 405 response MUST carry Allow; aiohttp's HTTPMethodNotAllowed sets it.
    r = await client.post("/healthz")
    assert r.status == 405
    assert set(r.headers.get("Allow", "").split(",")) == {"GET", "HEAD"}


async def test_unexpected_exception_is_a_json_500(client):
    r = await client.get("/boom", headers={"X-Request-Id": "req-500"})
    assert r.status == 500
    assert r.headers["X-Request-Id"] == "req-500"
    error = (await r.json())["error"]
    assert error["code"] == "internal_error"
    assert "kaboom" not in error["message"]  # internals stay in the log
    assert error["details"] == ["req-500"]


async def test_api_error_keeps_its_status_and_shape(client):
    r = await client.post("/conflict")
    assert r.status == 409
    assert await r.json() == {"error": {"code": "already_done", "message": "it is done", "details": ["x"]}}


async def test_a_request_aiohttp_cannot_read_is_one_warning_line_not_a_traceback(caplog):
    """Anyone on the network can send an unreadable request: it is logged as one warning, never as an error with a
    traceback (aiohttp's own handling), and answered in the envelope."""
    runner = Runner(create_app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with structlog.testing.capture_logs() as logged, caplog.at_level(logging.DEBUG):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
            await writer.drain()
            answer = await reader.read()
            writer.close()
    finally:
        await runner.cleanup()
    assert answer.split(b" ")[1] == b"400" and b'"unreadable_request"' in answer
    assert [e["event"] for e in logged if e["log_level"] == "warning"] == ["http.unreadable_request"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
