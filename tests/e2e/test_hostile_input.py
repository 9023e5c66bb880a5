"""Hostile input, each case of issue 11: a clear 4xx that changes nothing, or stored and becoming an incident;
never a 5xx. Alerts are cleaned (control characters become U+FFFD), people's requests refused."""

from __future__ import annotations

import json
import re

import pytest
from yarl import URL

from libs.testing import RunningService, consumer_caught_up, dead_letter_count, stream_envelopes
from tests.conftest import auth, eventually

ALL = ("intake", "triage", "escalation", "change", "reporting")
NUL_PATHS = [
    ("GET", "triage", "/v1/incidents/%00"),
    ("GET", "change", "/v1/changes/%00"),
    ("GET", "escalation", "/v1/sla/incidents/%00"),
    ("GET", "reporting", "/v1/reports/acme/incidents/%00/sla"),
    ("GET", "triage", "/v1/provider-incidents/%00"),
    ("GET", "triage", "/v1/incidents?assignee=%00"),
    ("GET", "triage", "/v1/incidents?queue=%00"),
    ("POST", "triage", "/v1/incidents/%00/acknowledge"),
    ("POST", "change", "/v1/changes/%00/submit"),
    ("GET", "triage", "/v1/incidents/%ED%A0%80"),  # a surrogate's UTF-8 form: not UTF-8 at all
    ("GET", "reporting", "/v1/ledger/acme?limit=%01"),
]


@pytest.fixture
async def stack(settings, start) -> dict[str, RunningService]:
    return {name: await start(name, settings) for name in ALL}


async def raw(http, method: str, url: str, body: str | None = None, token: str = "admin-token", **headers: str):
    hdrs = auth(token) | headers | ({"Content-Type": "application/json"} if body is not None else {})
    async with http.request(method, URL(url, encoded=True), data=body, headers=hdrs) as r:
        text = await r.text()
        return r.status, json.loads(text) if text.startswith("{") else text


@pytest.mark.parametrize(("method", "service", "path"), NUL_PATHS)
async def test_a_control_character_in_a_path_or_query_is_a_400(stack, http, method, service, path):
    status, body = await raw(http, method, stack[service].url + path)
    if "%ED" in path:  # not a control character once decoded, just an id that does not exist
        assert status == 404
        return
    assert status == 400, body
    assert body["error"]["code"] == "invalid_characters"


async def test_nul_in_a_generic_alert_is_replaced_and_becomes_an_incident(settings, stack, http):
    body = '{"summary":"Disk errors on nas\\u0000-01","severity":"critical","labels":{"ho\\u0001st":"nas\\ud800"}}'
    status, answer = await raw(
        http, "POST", stack["intake"].url + "/v1/webhooks/generic", body, **{"X-Tierline-Key": "acme-key"}
    )
    assert status == 202, answer

    async def incident():
        _, listed = await raw(http, "GET", stack["triage"].url + "/v1/incidents?tenant=acme")
        return listed["items"]

    [item] = await eventually(incident)
    assert item["title"] == "Disk errors on nas\ufffd-01"
    _, detail = await raw(http, "GET", stack["triage"].url + f"/v1/incidents/{item['number']}")
    [alert] = detail["alerts"]
    assert alert["alert_id"] == answer["alert_id"]
    assert alert["sanitized"] == ["summary", "labels.ho\ufffdst"]
    assert await consumer_caught_up(settings, "reporting")
    [received] = await stream_envelopes(settings, "alert.received")
    assert received.data["labels"] == {"ho\ufffdst": "nas\ufffd"}
    assert await dead_letter_count(settings) == 0  # nothing failed anywhere downstream


async def test_a_deeply_nested_webhook_body_is_a_400(stack, http):
    deep = '{"summary":"x","labels":' + '{"a":' * 5000 + '"b"' + "}" * 5000 + "}"
    status, body = await raw(
        http, "POST", stack["intake"].url + "/v1/webhooks/generic", deep, **{"X-Tierline-Key": "acme-key"}
    )
    assert status == 400 and body["error"]["code"] == "too_deeply_nested"
    status, body = await raw(http, "POST", stack["triage"].url + "/v1/incidents", "[" * 5000 + "]" * 5000)
    assert status == 400 and body["error"]["code"] == "too_deeply_nested"


@pytest.mark.parametrize("text", ["\\u0000", "\\u001b[31m", "\\ud800"], ids=["nul", "escape", "lone-surrogate"])
async def test_control_characters_in_peoples_bodies_are_a_422_naming_the_field(stack, http, text):
    triage, change = stack["triage"].url, stack["change"].url
    status, body = await raw(http, "POST", triage + "/v1/incidents", f'{{"tenant":"acme","title":"ERP{text}down"}}')
    assert status == 422, body
    assert [d["field"] for d in body["error"]["details"]] == ["title"]
    assert body["error"]["details"][0]["type"] == "invalid_characters"
    _, listed = await raw(http, "GET", triage + "/v1/incidents?tenant=acme")
    assert listed["items"] == []  # refused: nothing stored

    status, created = await raw(http, "POST", triage + "/v1/incidents", '{"tenant":"acme","title":"ERP down"}')
    assert status == 201
    status, body = await raw(http, "POST", triage + f"/v1/incidents/{created['number']}/notes", f'{{"text":"a{text}"}}')
    assert status == 422 and body["error"]["details"][0]["field"] == "text"

    change_body = f'{{"tenant":"acme","change_type":"normal","ci":"erp-db","title":"Patch","description":"x{text}"}}'
    status, body = await raw(http, "POST", change + "/v1/changes", change_body, token="alice-token")
    assert status == 422 and body["error"]["details"][0]["field"] == "description"


async def test_every_route_of_every_service_refuses_nul_in_its_path_and_query(stack, http):
    """Walks the routers themselves, so an endpoint added later is covered without anyone listing it."""
    seen = 0
    for name, svc in stack.items():
        for method, template in svc.routes():
            params = re.findall(r"\{(\w+)(?::[^}]*)?\}", template)
            for hostile in params or [None]:
                path = re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m, h=hostile: "%00" if m.group(1) == h else "x", template)
                for query in ("", "?tenant=%00", "?limit=%00&state=%00&from=%00"):
                    status, body = await raw(http, method, svc.url + path + query)
                    seen += 1
                    assert status < 500, f"{name} {method} {path}{query}: {status} {body}"
                    if hostile or query:
                        assert status == 400 and body["error"]["code"] == "invalid_characters", (path, query, body)
    assert seen > 100
