"""The console behind the gateway (`tierline up`'s one base URL): `/` leads to it, sign-in works through it, and
its event stream flows through it live, each tab seeing only its own tenants and never alert text."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from libs.gateway import create_gateway, routes_of
from libs.localstack import free_port
from services.registry import REGISTRY
from tests.console.browser import generic
from tests.console.conftest import client, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def gateway(stack):
    specs = [REGISTRY.spec(n) for n in [*stack.services, "console"]]
    routes = routes_of(specs, instance=stack.console.settings.instance_id)
    for name, svc in [*stack.services.items(), ("console", stack.console)]:
        routes.set(name, svc.port)
    runner = web.AppRunner(create_gateway(routes), handle_signals=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def events(response, want: int) -> list[tuple[str, dict]]:
    """The next `want` SSE events (name, data) of a stream, pings skipped."""
    out, name, data = [], None, []
    while len(out) < want:
        line = (await asyncio.wait_for(response.content.readline(), 20)).decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif line == "" and data:
            out.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return out


async def test_the_root_and_sign_in_through_the_gateway(gateway):
    async with client() as http:
        async with http.get(f"{gateway}/", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/console/"
        r = await sign_in(http, gateway, "eng-token")
        names = [c.split("=", 1)[0] for c in r.headers.getall("Set-Cookie")]
        assert r.status == 303 and sorted(names) == ["tierline_login", "tierline_session"]  # both came through
        async with http.get(f"{gateway}/console/queue") as q:
            assert q.status == 200 and "eve" in await q.text()


async def test_live_updates_stream_through_the_gateway_walled_per_tenant(stack, gateway):
    async with client() as acme, client() as globex:
        await sign_in(acme, gateway, "acme-viewer-token")
        await sign_in(globex, gateway, "globex-viewer-token")
        headers = {"Accept": "text/event-stream"}
        async with acme.get(f"{gateway}/console/events", headers=headers) as a, \
                   globex.get(f"{gateway}/console/events", headers=headers) as g:  # fmt: skip
            assert a.headers["Content-Type"].startswith("text/event-stream")
            assert [e[0] for e in await events(a, 1)] == ["hello"] and [e[0] for e in await events(g, 1)] == ["hello"]
            await generic(stack, "globex-key", "Globex secret outage text")
            [(kind, update)] = await events(g, 1)
            assert kind == "update" and {i["kind"] for i in update["items"]} == {"incident"}
            assert "Globex secret outage text" not in json.dumps(update)  # ids and types only
            globex_ids = {i["id"] for i in update["items"]}
            await generic(stack, "acme-key", "Acme after Globex")
            [(kind, update)] = await events(a, 1)  # acme's first update: only its own incident
            assert kind == "update" and not globex_ids & {i["id"] for i in update["items"]}
            # One item per incident and flush, with its latest event type (opened, then its clocks and policy).
            assert [i["number"] for i in update["items"]] == ["ACME-1"], update


async def test_the_event_stream_needs_a_session(stack):
    async with client() as http:
        async with http.get(f"{stack.url}/console/events", headers={"Accept": "text/event-stream"}) as r:
            assert r.status == 401
