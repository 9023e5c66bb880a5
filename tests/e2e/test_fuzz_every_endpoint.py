"""Every operation of every service, fuzzed from the service's own /openapi.json (so a new route is fuzzed without
anyone listing it): paths, queries and bodies from the schema and broken on purpose (control bytes, invalid UTF-8,
huge numbers, deep nesting, wrong types, odd paths), sent with each role's credentials. Whatever arrives: never a
5xx; every refusal in the envelope its operation documents; and a refused request changes nothing -- each table's
rows and each stream's last sequence are read before and after it.

TIERLINE_FUZZ_EXAMPLES raises the examples per operation (the quick run: EXAMPLES below, derandomized so CI is
stable); TIERLINE_FUZZ_RANDOM=1 draws new examples each run, for a longer hunt."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzzing
from yarl import URL

from libs.bus import connect_bus
from libs.gateway import Routes, create_gateway
from libs.openapi import routes
from tests.console.conftest import client, sign_in
from tests.e2e.fullstack import calm_config, full_stack
from tests.e2e.fuzzing import Call, Snapshots, calls, changed

pytestmark = pytest.mark.asyncio(loop_scope="session")
EXAMPLES = int(os.environ.get("TIERLINE_FUZZ_EXAMPLES", "0")) or 10
FIXED = os.environ.get("TIERLINE_FUZZ_RANDOM") != "1"
TOKENS = ["admin", "alice", "bob", "eng", "manager", "acme-viewer", "globex-viewer", "globex-approver"]
KEYS = ["acme-key", "globex-key"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
async def stack(real_servers, tmp_path_factory):
    async with full_stack(real_servers, calm_config(tmp_path_factory.mktemp("fuzz"))) as s:
        yield s


async def _json(http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None) -> Any:
    async with http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status < 300, (url, r.status, await r.text())
        return await r.json()


async def seed(stack, http: aiohttp.ClientSession) -> dict[str, list[str]]:
    """One of everything a path can name, for both tenants: the ids the fuzz substitutes (by parameter name)."""
    triage, change, esc = (stack.services[n].url for n in ("triage", "change", "escalation"))
    incidents = [await _json(http, "POST", f"{triage}/v1/incidents", "admin-token",
                             {"tenant": t, "title": f"seeded {t}", "impact": "low", "urgency": "low"})
                 for t in ("acme", "globex")]  # fmt: skip
    ch = await _json(http, "POST", f"{change}/v1/changes", "alice-token",
                     {"tenant": "acme", "change_type": "normal", "ci": "erp-db", "title": "Patch"})  # fmt: skip
    start = datetime.now(UTC) + timedelta(days=3)
    span = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    over = await _json(http, "POST", f"{esc}/v1/schedules/noc/overrides", "manager-token", {"user": "oscar", **span})
    refs = [i["number"] for i in incidents] + [i["id"] for i in incidents]
    return {
        "ref": [*refs, ch["number"], ch["id"]], "incident_id": refs, "incident": refs, "tenant": ["acme", "globex"],
        "month": ["2026-11.html", "2026-11"], "schedule": ["noc", "acme-dba"], "user": ["eve", "dana"],
        "override_id": [over["id"]], "id": ["1"], "name": ["acme-prometheus"], "key": KEYS,
        "action": ["acknowledge", "resolve", "notes", "submit", "approve", "assess"], "filename": ["console.css"],
        "token": ["x" * 43], "state": ["open"], "format": ["csv", "html"],
    }  # fmt: skip


async def console_sessions(url: str) -> dict[str, tuple[str, str]]:
    """A signed-in console session (cookie, CSRF token) for a provider admin and a client viewer."""
    out = {}
    for token in ("admin-token", "acme-viewer-token"):
        async with client() as http:
            assert (await sign_in(http, url, token)).status == 303
            cookie = "; ".join(
                f"{m.key}={m.value}" for m in http.cookie_jar.filter_cookies(URL(f"{url}/console/")).values()
            )
            async with http.get(f"{url}/console/help") as r:
                out[token] = (cookie, CSRF.search(await r.text()).group(1))
    return out


def headers(service: str, who: str | None, sessions: dict[str, tuple[str, str]]) -> dict[str, str]:
    if who is None:
        return {}
    if service == "console":
        return {"Cookie": sessions[who][0]} if who in sessions else {}
    if who == "basic":
        return {"Authorization": "Basic " + base64.b64encode(b"x:admin-token").decode()}
    if service == "intake":
        return {"X-Tierline-Key": who}
    return {"Authorization": f"Bearer {who}-token"}


def credentials(service: str) -> list[str | None]:
    if service == "gateway":
        return ["admin", "acme-viewer", "nobody", None]
    if service == "console":
        return ["admin-token", "acme-viewer-token", None]
    return [*(KEYS if service == "intake" else TOKENS), "basic", "nobody", None]


def refusal_problem(op: dict[str, Any], status: int, ctype: str, body: str) -> str | None:
    """What is wrong with a refusal's answer, judged by what the operation documents for that status."""
    documented = op.get("responses", {}).get(str(status), {}).get("content", {})
    if "text/html" in documented and ctype == "text/html":
        return None  # a page's refusal is a page (one refused before any handler, by the middleware, is JSON)
    schema = documented.get("application/json", {}).get("schema", {})
    if schema.get("$ref", "").endswith("/Error") or "text/html" in documented or not documented:
        try:
            error = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            return f"no error envelope: {body[:200]!r}"
        if not (isinstance(error, dict) and {"code", "message", "details"} <= error.keys()):
            return f"an incomplete error envelope: {error!r}"
    return None


async def test_every_operation_of_every_service_fuzzed(stack, http):
    known = await seed(stack, http)
    sessions = await console_sessions(stack.services["console"].url)
    known["csrf"] = [csrf for _, csrf in sessions.values()]
    conn = await asyncpg.connect(stack.settings.database_url)
    bus = await connect_bus(stack.settings, name="fuzz-probe")
    snaps = Snapshots(conn, bus)
    await snaps.prepare()
    await snaps.settle()
    state = {"baseline": await snaps.take()}
    bases = {name: svc.url for name, svc in stack.services.items()} | {"gateway": stack.gateway}
    gateway_own = {path for _, path, _ in routes(create_gateway(Routes([], "probe")))}
    known |= {"name": [*known["name"], *stack.services], "tail": ["readyz", "metrics", "openapi.json", "v1/incidents"]}
    loop, counts = asyncio.get_running_loop(), {"sent": 0, "refused": 0, "accepted_writes": 0}
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    statuses: dict[int, int] = {}

    async def send(service: str, op: dict[str, Any], call: Call) -> None:
        hdrs = headers(service, call.who, sessions) | ({"Content-Type": call.content_type} if call.content_type else {})
        url = URL(call.url(bases[service]), encoded=True)
        async with session.request(call.method, url, data=call.body, headers=hdrs, allow_redirects=False) as r:
            status, ctype = r.status, r.content_type
            text = "" if ctype == "text/event-stream" else await r.text(errors="replace")  # a live stream: endless
        counts["sent"] += 1
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, f"{service} {call!r}: {status} {text[:500]}"
        if status >= 400:
            counts["refused"] += 1
            forwarded_page = call.path.startswith("/services/console/") and ctype == "text/html"  # the console's own
            assert forwarded_page or (problem := refusal_problem(op, status, ctype, text)) is None, (
                f"{service} {call!r}: {status} {ctype} {problem}"
            )
            after = await snaps.take()
            assert not (diff := changed(state["baseline"], after)), (
                f"{service} {call!r} answered {status} yet changed {diff}"
            )
        elif call.method != "GET":
            counts["accepted_writes"] += 1
            await snaps.settle()
            state["baseline"] = await snaps.take()

    def fuzz(service: str, method: str, template: str, op: dict[str, Any], components: dict[str, Any]) -> None:
        strategy = calls(method, template, op, components, known, credentials(service))

        @fuzzing(max_examples=EXAMPLES, deadline=None, database=None, derandomize=FIXED,
                 suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(call=strategy)
        def one(call: Call) -> None:
            asyncio.run_coroutine_threadsafe(send(service, op, call), loop).result(timeout=60)

        one()

    try:
        operations = 0
        for name, base in bases.items():
            async with http.get(f"{base}/openapi.json") as r:
                doc = await r.json()
            for template, ops in doc["paths"].items():
                if name == "gateway" and template not in gateway_own:
                    continue  # the services' operations, fuzzed on their own ports above
                for method, op in ops.items():
                    operations += 1
                    await asyncio.to_thread(fuzz, name, method.upper(), template, op, doc["components"])
    finally:
        await session.close()
        await bus.close()
        await conn.close()
    print(f"fuzz: {operations} operations, {counts}, statuses {dict(sorted(statuses.items()))}")
    assert operations > 100
    assert counts["sent"] >= operations * EXAMPLES * 0.5 and counts["refused"] > counts["sent"] / 2
    assert counts["accepted_writes"] > 0  # the fuzz got past the gates too
