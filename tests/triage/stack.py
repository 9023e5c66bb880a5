"""Helpers for triage tests against the running stack: post alerts to intake, call the incident API, and
read the events triage raised from this test's stream."""

from __future__ import annotations

import itertools
from typing import Any

from libs.events import Envelope
from libs.testing import stream_envelopes
from tests.conftest import auth, eventually

KEYS = {"acme": "acme-key", "globex": "globex-key", "initech": "initech-key"}


SENT = itertools.count()


async def alert(http, intake, tenant: str = "acme", **body: Any) -> dict:
    """One new delivery: a `delivery` label makes each call distinct (the same content twice is a retry,
    which intake stores once)."""
    body.setdefault("summary", f"{body.get('dedup_key', 'alert')} broken")
    body["labels"] = {**body.get("labels", {}), "delivery": str(next(SENT))}
    async with http.post(f"{intake.url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": KEYS[tenant]}) as r:
        assert r.status == 202, await r.text()
        return await r.json()


async def call(http, method: str, url: str, token: str = "admin-token", json: Any = None, **params: str):
    async with http.request(method, url, json=json, params=params, headers=auth(token)) as r:
        return r.status, await r.json()


async def incidents(http, triage, token: str = "admin-token", **query: str) -> list[dict]:
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents", token, **query)
    assert status == 200, body
    return body["items"]


async def detail(http, triage, ref: str, token: str = "admin-token") -> dict:
    status, body = await call(http, "GET", f"{triage.url}/v1/incidents/{ref}", token)
    assert status == 200, body
    return body


async def act(http, triage, ref: str, action: str, json: Any = None, token: str = "eng-token") -> tuple[int, dict]:
    return await call(http, "POST", f"{triage.url}/v1/incidents/{ref}/{action}", token, json)


async def settled(http, triage, ref: str, alerts: int) -> dict:
    """The incident's detail once `alerts` alerts are recorded on it."""

    async def check():
        status, d = await call(http, "GET", f"{triage.url}/v1/incidents/{ref}")
        return d if status == 200 and len(d["alerts"]) >= alerts else None

    return await eventually(check)


async def processed(http, triage, count: int, **query: str) -> list[dict]:
    """Wait until the list holds `count` incidents; returns them."""

    async def check():
        items = await incidents(http, triage, **query)
        return items if len(items) == count else None

    return await eventually(check)


async def events(settings, prefix: str = "incident.") -> list[Envelope]:
    """Every event on this test's stream whose type starts with `prefix`, in stream order."""
    return await stream_envelopes(settings, prefix)


async def create(http, triage, token: str = "eng-token", **body) -> dict:
    status, got = await call(http, "POST", f"{triage.url}/v1/incidents", token, {"tenant": "acme", "title": "x"} | body)
    assert status == 201, got
    return got
