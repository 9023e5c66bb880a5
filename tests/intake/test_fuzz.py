"""Property-based fuzzing of every intake endpoint from its own OpenAPI document.

Thousands of bodies -- generated from each endpoint's schema, then broken (fields dropped, values of the
wrong type, arbitrary JSON, non-JSON bytes) -- go to a running intake. Whatever arrives: never a 5xx, and
exactly the alerts answered 202 are on the stream (a refusal publishes nothing).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as fuzzing
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from services.intake.api.openapi import document
from tests.intake.wire import fixture, stored

ENDPOINTS = {  # path -> (schema in /openapi.json, a real-shaped body to start from)
    "/v1/webhooks/generic": ("GenericAlert", {"summary": "disk full", "service": "erp-db", "labels": {"a": "b"}}),
    "/v1/webhooks/alertmanager": ("AlertmanagerNotification", fixture("alertmanager_firing.json")),
    "/v1/webhooks/grafana": ("GrafanaNotification", fixture("grafana_firing.json")),
    "/v2/enqueue": ("PdEvent", fixture("pagerduty_trigger.json")),
}
EXAMPLES_PER_ENDPOINT = int(os.environ.get("TIERLINE_FUZZ_EXAMPLES", "500"))  # raise it for a deeper run
# Generating from the full schemas is slow (strings up to 8 KiB, 1,000 alerts); the same schemas with small
# caps reach the same branches. Caps never loosen a constraint, so what they generate is still valid.
CAPS = {"maxLength": 24, "maxItems": 3, "maxProperties": 3}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def compact(node: Any) -> Any:
    if isinstance(node, list):
        return [compact(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: compact(v) for k, v in node.items()}
    if not isinstance(out.get("type", ""), str):  # a "properties" map, with a field called "type"
        return out
    for k, cap in CAPS.items():
        if isinstance(out.get(k), int):
            out[k] = min(out[k], cap)
    defaults = {"string": "maxLength", "array": "maxItems"}
    if (kind := defaults.get(out.get("type", ""))) and kind not in out and "format" not in out:
        out[kind] = CAPS[kind]
    return out


def schema_for(name: str) -> dict:
    return compact({"$ref": f"#/components/schemas/{name}", "components": document()["components"]})


def paths(node: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON document (dict keys and list indexes), for mutations deep inside it."""
    out = [here] if here else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for k, v in items:
        out += paths(v, (*here, k))
    return out


def change(node: Any, path: tuple, value: Any, *, drop: bool) -> Any:
    node = copy.deepcopy(node)
    parent = node
    for step in path[:-1]:
        parent = parent[step]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return node


@st.composite
def bodies(draw: st.DrawFn, start: dict, generated: st.SearchStrategy[Any]) -> bytes:
    """Mostly broken bodies: a real or schema-generated one, then a field dropped or retyped anywhere in it,
    or arbitrary JSON, or bytes, or JSON cut short; some stay intact (they must be accepted and stored)."""
    body = draw(generated) if draw(st.integers(0, 9)) == 0 else start  # 1 in 10 generated from the schema
    how = draw(st.sampled_from(["intact", "drop", "retype", "retype", "arbitrary", "bytes", "truncated"]))
    if how in ("drop", "retype") and (where := paths(body)):
        body = change(body, draw(st.sampled_from(where)), draw(json_values), drop=how == "drop")
    elif how == "arbitrary":
        return json.dumps(draw(json_values)).encode()
    elif how == "bytes":
        return draw(st.binary(max_size=64))
    raw = json.dumps(body).encode()
    return raw[: draw(st.integers(0, max(0, len(raw) - 1)))] if how == "truncated" else raw


async def test_no_body_makes_a_5xx_or_publishes_when_refused(settings, start, http):
    intake = await start("intake", settings)
    loop = asyncio.get_running_loop()
    accepted: set[str] = set()
    statuses: dict[int, int] = {}

    async def send(path: str, raw: bytes, key_in_body: bool) -> None:
        headers = {"Content-Type": "application/json"}
        if not key_in_body:
            headers["Authorization"] = "Bearer acme-key"
        async with http.post(f"{intake.url}{path}", data=raw, headers=headers) as r:
            statuses[r.status] = statuses.get(r.status, 0) + 1
            assert r.status < 500, (path, raw[:300], await r.text())
            body = await r.json(content_type=None)
            if r.status == 202:
                if "alerts" in body:
                    accepted.update(a["alert_id"] for a in body["alerts"])
                elif "alert_id" in body:
                    accepted.add(body["alert_id"])
                else:
                    accepted.add(f"pd:{body['dedup_key']}")

    def fuzz(path: str, schema_name: str, start: dict) -> None:
        pd = path.startswith("/v2/")
        schema = schema_for(schema_name)
        if pd:  # the routing key is in the body: keep a valid one so the checks behind it are reached
            schema["components"]["schemas"]["PdEvent"]["properties"]["routing_key"] = {"const": "acme-key"}

        @fuzzing(
            max_examples=EXAMPLES_PER_ENDPOINT,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(raw=bodies(start, from_schema(schema)))
        def one(raw: bytes) -> None:
            asyncio.run_coroutine_threadsafe(send(path, raw, pd), loop).result(timeout=30)

        one()

    for path, (schema_name, start_body) in ENDPOINTS.items():
        await asyncio.to_thread(fuzz, path, schema_name, start_body)

    assert sum(statuses.values()) >= len(ENDPOINTS) * EXAMPLES_PER_ENDPOINT * 0.9
    assert statuses.get(202, 0) and statuses.get(422, 0) and statuses.get(400, 0)  # the fuzz reached every gate
    events = await stored(settings, "alert.received")
    # Exactly what was answered 202 is stored, nothing from a refusal (PagerDuty answers name the dedup key).
    tokens = [e["id"] if e["id"] in accepted else f"pd:{e['data']['dedup_key']}" for e in events]
    assert set(tokens) == accepted
