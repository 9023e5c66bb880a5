"""The tenant wall, walked over every route of every service's router (so a new endpoint is covered without anyone
remembering it): tenant A (acme) has one of everything; each of tenant B's (globex's) role tokens -- its client
viewer and approver, and provider staff scoped to globex -- calls each route with A's ids in every path parameter.
The answer must be exactly the one for an id that does not exist (status and error code), and never hold A's ids,
titles or names; a list shows none of A's items. A route that is legitimately tenant-less is listed below with
why; every other route is walked."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from yarl import URL

from tests.conftest import eventually
from tests.console.conftest import client, sign_in
from tests.e2e.fullstack import calm_config, full_stack
from tests.e2e.test_fuzz_every_endpoint import CSRF

pytestmark = pytest.mark.asyncio(loop_scope="session")
# Provider staff limited to tenant B: past every role check, so the wall itself answers.
SCOPED = {"globex-admin-token": "provider_admin", "globex-eng-token": "engineer", "globex-manager-token": "manager"}
B_TOKENS = ["globex-viewer-token", "globex-approver-token", *SCOPED]
B_KEY = "globex-key"  # B's integration key: intake's credential
TENANTLESS = {  # (method, path template) -> why no tenant's data is behind it
    **{(m, p): "the service itself: health, readiness, metrics, its API's description" for m, p in [
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json")]},
    ("GET", "/v1/ack/{token}"): "a page's link: its unguessable secret is the credential, not a tenant's token",
    ("POST", "/v1/ack/{token}"): "a page's link: its unguessable secret is the credential, not a tenant's token",
    ("POST", "/v1/config/reload"): "provider-level admin: re-applies the provider's own tierline.yaml",
    ("GET", "/console/events"): "a live stream (never ends); its per-tenant wall: tests/console/test_live.py",
    **{("GET", p): "the console's sign-in, help and static files" for p in [
        "/console", "/console/", "/console/login", "/console/help", "/console/static/{filename}"]},
    **{("POST", p): "the console's own session: sign in, out, theme" for p in [
        "/console/login", "/console/logout", "/console/theme"]},
}  # fmt: skip
BODIES = {  # a valid body per action, so the request reaches the wall (not a 422 before it)
    "notes": {"text": "from B"}, "hold": {"reason": "pending_customer"}, "reopen": {"reason": "x"},
    "escalate": {"reason": "x"}, "assign": {"assignee": None}, "priority": {"priority": "P1", "reason": "x"},
    "assess": {"risk": "low", "impact": "low"}, "fail": {"rollback": "x"}, "clear": {"reason": "x"},
    "overrides": {"user": "dana", "start": "2030-01-01T00:00:00Z", "end": "2030-01-01T02:00:00Z"},
    "changes": {"tenant": "globex", "change_type": "normal", "ci": "crm", "title": "x"},
    "incidents": {"tenant": "globex", "title": "x"}, "results": {"result": "fail", "ci": "erp-db"},
}  # fmt: skip
PARAM = re.compile(r"\{(\w+)\}")


def walls_config(tmp: Path) -> Path:
    cfg = yaml.safe_load(calm_config(tmp).read_text())
    acme = next(t for t in cfg["tenants"] if t["id"] == "acme")  # a heartbeat and a control only A has
    acme["heartbeats"] = [{"name": "acme-weekly-report", "expect_every": "7d", "ci": "erp-db"}]
    acme["controls"] = [{"id": "acme-audit-logging", "framework_ref": "HIPAA", "cis": ["erp-db"], "check_every": "7d"}]
    for token, role in SCOPED.items():
        digest = hashlib.sha256(token.encode()).hexdigest()
        cfg["provider"]["api_tokens"].append({"user": token[:-6], "role": role, "tenants": ["globex"],
                                              "token_sha256": digest})  # fmt: skip
    path = tmp / "walls.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
async def stack(real_servers, tmp_path_factory):
    async with full_stack(real_servers, walls_config(tmp_path_factory.mktemp("walls"))) as s:
        yield s


async def _call(http, method, url, token, body=None):
    async with http.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status < 300, (url, r.status, await r.text())
        return await r.json()


async def tenant_a(stack, http) -> dict[str, list[str]]:
    """One of everything for acme; A's ids by the path parameter that names them, and its secrets (`_secrets`)."""
    triage, change, esc, intake = (stack.services[n].url for n in ("triage", "change", "escalation", "intake"))
    hand = await _call(http, "POST", f"{triage}/v1/incidents", "admin-token",
                       {"tenant": "acme", "title": "A-secret-title", "impact": "low", "urgency": "low"})  # fmt: skip
    await _call(http, "POST", f"{triage}/v1/incidents/{hand['number']}/notes", "admin-token",
                {"text": "A-secret-note", "internal": False})  # fmt: skip
    alert = {"summary": "A-secret-alert", "severity": "warning", "service": "erp-db", "dedup_key": "a-secret"}
    async with http.post(f"{intake}/v1/webhooks/generic", json=alert, headers={"X-Tierline-Key": "acme-key"}) as r:
        assert r.status == 202
    body = {"tenant": "acme", "change_type": "normal", "ci": "erp-db", "title": "A-secret-change"}
    ch = await _call(http, "POST", f"{change}/v1/changes", "alice-token", body)
    start = datetime.now(UTC) + timedelta(days=2)
    body = {"user": "dana", "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    over = await _call(http, "POST", f"{esc}/v1/schedules/acme-dba/overrides", "manager-token", body)

    async def both_open():
        async with http.get(f"{triage}/v1/incidents?tenant=acme", headers={"Authorization": "Bearer admin-token"}) as r:
            items = (await r.json())["items"]
        return items if len(items) == 2 else None

    incidents = await eventually(both_open)
    for i in incidents:  # clocks started and ledger written: every service holds A's incident
        await eventually(lambda i=i: _exists(http, f"{esc}/v1/sla/incidents/{i['id']}"))
        await eventually(
            lambda i=i: _exists(http, f"{stack.services['reporting'].url}/v1/reports/acme/incidents/{i['number']}/sla")
        )
    ids = [i["number"] for i in incidents] + [i["id"] for i in incidents]
    refs = [*ids, ch["number"], ch["id"]]
    return {
        "ref": refs, "incident_id": ids, "incident": ids, "tenant": ["acme"], "schedule": ["acme-dba"],
        "user": ["dana"], "override_id": [over["id"]], "month": ["2026-12.html"], "action": ["notes", "submit"],
        "name": ["acme-weekly-report"], "id": ["acme-audit-logging"],
        "_secrets": [*refs, over["id"], "A-secret-title", "A-secret-note", "A-secret-alert", "A-secret-change",
                     "Acme Manufacturing", "Acme DBAs", "acme-weekly-report", "acme-audit-logging"],
    }  # fmt: skip


def shows(text: str, secret: str) -> bool:
    """Whether `secret` is in `text` as itself (ACME-1, not the ACME-12 of a search box's placeholder)."""
    return re.search(rf"(?<![\w-]){re.escape(secret)}(?!\w)", text) is not None


async def _exists(http, url: str) -> bool:
    async with http.get(url, headers={"Authorization": "Bearer admin-token"}) as r:
        return r.status == 200


def missing(name: str) -> str:
    """An id of the same shape that names nothing."""
    return {"ref": "ACME-987654", "incident_id": str(uuid.uuid4()), "incident": "ACME-987655", "tenant": "nosuch",
            "schedule": "no-such-schedule", "user": "nobody", "override_id": str(uuid.uuid4()),
            "month": "2026-12.html", "action": "notes"}.get(name, "nosuch")  # fmt: skip


async def console_sessions(url: str) -> dict[str, tuple[str, str]]:
    out = {}
    for token in B_TOKENS:
        async with client() as http:
            assert (await sign_in(http, url, token)).status == 303, token
            jar = http.cookie_jar.filter_cookies(URL(f"{url}/console/"))
            async with http.get(f"{url}/console/help") as r:
                out[token] = ("; ".join(f"{m.key}={m.value}" for m in jar.values()), CSRF.search(await r.text())[1])
    return out


async def answer(http, service: str, method: str, url: str, token: str, sessions, template: str):
    """(status, error code or None, body text) of one call as `token`, with a body that passes validation."""
    last = template.rstrip("/").rsplit("/", 1)[-1]
    if service == "console":
        cookie, csrf = sessions[token]
        kw: dict[str, Any] = {"headers": {"Cookie": cookie}}
        if method == "POST":
            kw["data"] = {"csrf": csrf, "text": "from B", "reason": "x", "comment": "x"}
    else:
        kw = {"headers": {"X-Tierline-Key": token} if token == B_KEY else {"Authorization": f"Bearer {token}"}}
        if method in ("POST", "DELETE"):
            kw["json"] = BODIES.get(last, {})
    async with http.request(method, URL(url, encoded=True), allow_redirects=False, **kw) as r:
        text = await r.text()
        try:
            code = json.loads(text).get("error", {}).get("code")
        except (ValueError, AttributeError):
            code = None
        return r.status, code, text, r.headers.get("Location", "")


async def test_tenant_b_reaches_nothing_of_tenant_a_on_any_route(stack, http):
    known = await tenant_a(stack, http)
    secrets = known.pop("_secrets")
    sessions = await console_sessions(stack.services["console"].url)
    walked, breaches = 0, []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as raw:
        for name, svc in stack.services.items():
            async with http.get(f"{svc.url}/openapi.json") as r:
                doc = await r.json()
            for method, template in svc.routes():
                if (method, template) in TENANTLESS:
                    continue
                params = PARAM.findall(template)
                op = doc["paths"][template][method.lower()]
                scoped = any(p["name"] == "tenant" and p["in"] == "query" for p in op.get("parameters", []))
                choices = [known.get(p, [missing(p)]) for p in params]
                tokens = [*B_TOKENS, B_KEY] if name == "intake" else B_TOKENS
                for values, token in itertools.product(itertools.product(*choices), tokens):
                    path = template
                    for p, v in zip(params, values, strict=True):
                        path = path.replace(f"{{{p}}}", v)
                    nothing = template
                    for p in params:
                        nothing = nothing.replace(f"{{{p}}}", missing(p))
                    queries = [("", "")] + ([("?tenant=acme", "?tenant=nosuch")] if scoped else [])
                    for q_a, q_none in queries:
                        walked += 1
                        got = await answer(raw, name, method, svc.url + path + q_a, token, sessions, template)
                        want = await answer(raw, name, method, svc.url + nothing + q_none, token, sessions, template)
                        leaked = [s for s in secrets if shows(got[2], s) and s not in path]
                        where = f"{name} {method} {path}{q_a} as {token}"
                        if leaked:
                            breaches.append(f"{where}: {got[0]} shows {leaked}")
                        elif params and (got[0], got[1]) != (want[0], want[1]):
                            breaches.append(f"{where}: {got[:2]} but {want[:2]} for an id that does not exist")
                        elif q_a and (got[0], got[1]) != (want[0], want[1]):
                            breaches.append(f"{where}: {got[:2]} but {want[:2]} for a tenant that does not exist")
    assert not breaches, "\n".join(breaches)
    assert walked > 300
