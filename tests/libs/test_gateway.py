"""The gateway routes only to a port whose /readyz names the right service and stack instance."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from libs.gateway import Routes, create_gateway
from libs.web import IDENTITY, create_app


class Stranger:
    """Whatever took a dead service's port: answers 200 "ready" to anything, and notes what it was sent."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        return web.json_response({"status": "ready", "items": ["not yours"]})


@pytest.fixture
async def stranger():
    who = Stranger()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", who.handle)
    async with TestServer(app) as server:
        yield who, server.port


async def service(name: str, instance: str) -> TestServer:
    app = create_app()
    app[IDENTITY] = {"service": name, "instance": instance}

    async def incidents(_: web.Request) -> web.Response:
        return web.json_response({"items": []})

    app.router.add_get("/v1/incidents", incidents)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_a_stranger_on_the_port_gets_no_request_and_readyz_does_not_lie(stranger):
    who, port = stranger
    routes = Routes(["triage"], instance="i-1", prefixes={"/v1/incidents": "triage"})
    routes.set("triage", port)
    async with TestClient(TestServer(create_gateway(routes))) as gw:
        r = await gw.get("/v1/incidents", headers={"Authorization": "Bearer admin-token"})
        assert r.status == 503 and (await r.json())["error"]["code"] == "service_unavailable"
        r = await gw.get("/readyz")
        assert r.status == 503
        assert (await r.json())["services"]["triage"]["status"] == "not answering as itself"
        assert all(auth is None for _, auth in who.seen)  # asked who it is; never handed a token
        assert {path for path, _ in who.seen} == {"/readyz"}


async def test_a_leftover_of_another_start_is_not_taken_for_this_one():
    old = await service("triage", "i-0")
    try:
        routes = Routes(["triage"], instance="i-1", prefixes={"/v1/incidents": "triage"})
        routes.set("triage", old.port)
        async with TestClient(TestServer(create_gateway(routes))) as gw:
            assert (await gw.get("/v1/incidents")).status == 503
            assert (await gw.get("/readyz")).status == 503
    finally:
        await old.close()


async def test_the_service_itself_is_routed_to_and_forgotten_when_it_exits():
    real = await service("triage", "i-1")
    try:
        routes = Routes(["triage"], instance="i-1", prefixes={"/v1/incidents": "triage"})
        routes.set("triage", real.port)
        async with TestClient(TestServer(create_gateway(routes))) as gw:
            r = await gw.get("/v1/incidents", headers={"Authorization": "Bearer admin-token"})
            assert r.status == 200 and await r.json() == {"items": []}
            r = await gw.get("/readyz")
            body = await r.json()
            assert r.status == 200 and body["services"]["triage"]["port"] == real.port
            routes.drop("triage")  # its process exited
            assert (await gw.get("/v1/incidents")).status == 503
            assert (await gw.get("/readyz")).status == 503
    finally:
        await real.close()
