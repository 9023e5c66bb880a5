"""GET /openapi.json of every service, walked from its own router: every route is in it with what its handler
declared (libs/openapi.py), and the gateway's merged document at the base URL is valid OpenAPI 3.1."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from libs.openapi import merge
from tests.conftest import TEST_CONFIG
from tests.e2e.fullstack import full_stack

pytestmark = pytest.mark.asyncio(loop_scope="session")
ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture(scope="module")
async def stack(real_servers):
    async with full_stack(real_servers, TEST_CONFIG) as s:
        yield s


async def test_every_route_of_every_service_is_in_its_document(stack, http):
    for name, svc in stack.services.items():
        async with http.get(f"{svc.url}/openapi.json") as r:
            assert r.status == 200
            doc = await r.json()
        validate(doc)
        documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        served = set(svc.routes())
        missing = served - documented
        assert not missing, f"{name}: routes without a document entry: {sorted(missing)}"
        undeclared = [(m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if op.get("x-undeclared")]
        assert undeclared == [], f"{name}: handlers that declare nothing (libs.openapi.operation): {undeclared}"


async def test_bodies_come_from_the_models_the_handlers_validate_with(stack, http):
    async with http.get(f"{stack.services['triage'].url}/openapi.json") as r:
        doc = await r.json()
    body = doc["paths"]["/v1/incidents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/IncidentCreate"}
    created = doc["components"]["schemas"]["IncidentCreate"]
    assert set(created["required"]) == {"tenant", "title"} and created["additionalProperties"] is False
    listed = {p["name"]: p for p in doc["paths"]["/v1/incidents"]["get"]["parameters"]}
    assert listed["state"]["schema"]["enum"][0] == "open" and "cursor" in listed


async def test_every_query_parameter_documented_is_one_the_handler_accepts(stack, http):
    """The documented query parameters are the handler's: none of them is refused as unknown (a renamed one would)."""
    checked = 0
    for svc in stack.services.values():
        async with http.get(f"{svc.url}/openapi.json") as r:
            doc = await r.json()
        for path, ops in doc["paths"].items():
            if "get" not in ops or "{" in path or path.endswith("/events"):
                continue
            for param in (p for p in ops["get"]["parameters"] if p["in"] == "query"):
                async with http.get(f"{svc.url}{path}", params={param["name"]: "x"}, headers=ADMIN) as r:
                    body = await r.text()
                checked += 1
                assert "unknown query parameter" not in body, f"{path}?{param['name']}= is documented but refused"
    assert checked > 40


async def test_the_base_url_serves_every_service_in_one_valid_document(stack, http):
    async with http.get(f"{stack.gateway}/openapi.json") as r:
        assert r.status == 200
        doc = await r.json()
    validate(doc)
    for name, svc in stack.services.items():
        for method, path in svc.routes():
            if path in ("/healthz", "/readyz", "/metrics", "/openapi.json") or "/static" in path:
                continue  # at the base URL these are the gateway's own
            assert method.lower() in doc["paths"].get(path, {}), f"{name} {method} {path} not in the merged document"
    assert {"/readyz", "/openapi.json", "/services/{name}/{tail}"} <= set(doc["paths"])
    assert "/{tail}" not in doc["paths"]  # the catch-all forward is no operation of its own


async def test_schemas_named_alike_in_two_services_are_kept_apart():
    def doc(prop: str) -> dict:
        schema = {"type": "object", "properties": {prop: {"type": "string"}}}
        ref = {"$ref": "#/components/schemas/Comment"}
        body = {"requestBody": {"content": {"application/json": {"schema": ref}}}}
        path = f"/v1/{prop}"
        return {"paths": {path: {"post": body}}, "components": {"schemas": {"Comment": schema}}}

    own = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}, "components": {"schemas": {}}}
    merged = merge({"a": doc("alpha"), "b": doc("beta")}, lambda p: "a" if "alpha" in p else "b", own)
    refs = {p: ops["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] for p, ops in
            merged["paths"].items()}  # fmt: skip
    assert refs == {"/v1/alpha": "#/components/schemas/Comment", "/v1/beta": "#/components/schemas/b.Comment"}
    assert set(merged["components"]["schemas"]["b.Comment"]["properties"]) == {"beta"}
