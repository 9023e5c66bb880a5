"""Helpers for the change service's tests: HTTP calls with a token, the workflow's common paths, and
reading what the service published to JetStream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from libs.events import Envelope
from tests.conftest import auth, eventually

ERP = {"tenant": "acme", "change_type": "normal", "ci": "erp-db", "title": "Patch ERP database"}
SAT = datetime(2030, 6, 1, tzinfo=UTC)  # a Saturday; London is UTC+1, the router's window is 00:00-04:00 UTC
H = timedelta(hours=1)


def iso(at: datetime) -> str:
    return at.isoformat()


def window(start: datetime, hours: float = 1) -> dict[str, str]:
    return {"planned_start": iso(start), "planned_end": iso(start + hours * H)}


async def call(http, method: str, url: str, token: str | None = "alice-token", **kw: Any) -> tuple[int, Any]:
    headers = (auth(token) if token else {}) | kw.pop("headers", {})
    async with http.request(method, url, headers=headers, **kw) as r:
        return r.status, await r.json()


async def create(http, svc, token: str = "alice-token", **fields: Any) -> dict[str, Any]:
    status, body = await call(http, "POST", f"{svc.url}/v1/changes", token, json=ERP | fields)
    assert status == 201, body
    return body


async def act(http, svc, change: dict[str, Any], action: str, token: str = "alice-token", **kw: Any):
    return await call(http, "POST", f"{svc.url}/v1/changes/{change['id']}/{action}", token, **kw)


async def ok(http, svc, change: dict[str, Any], action: str, token: str = "alice-token", **kw: Any):
    status, body = await act(http, svc, change, action, token, **kw)
    assert status == 200, body
    return body


async def get(http, svc, ref: str, token: str = "alice-token") -> dict[str, Any]:
    status, body = await call(http, "GET", f"{svc.url}/v1/changes/{ref}", token)
    assert status == 200, body
    return body


async def submitted(http, svc, token: str = "alice-token", **fields: Any) -> dict[str, Any]:
    return await ok(http, svc, await create(http, svc, token, **fields), "submit", token)


async def in_vote(http, svc, token: str = "alice-token", risk: str = "low", **fields: Any) -> dict[str, Any]:
    """Created, submitted and (a normal change) assessed: ready for the CAB's votes."""
    change = await submitted(http, svc, token, **fields)
    if change["change_type"] == "normal":
        change = await ok(http, svc, change, "assess", json={"risk": risk, "impact": "medium"})
    return change


async def approved(http, svc, token: str = "eng-token", **fields: Any) -> dict[str, Any]:
    change = await in_vote(http, svc, token, **fields)
    for voter in ("bob-token", "carol-token")[: change["quorum"]]:
        change = await ok(http, svc, change, "approve", voter)
    assert change["state"] == "approved", change
    return change


async def scheduled(http, svc, token: str = "eng-token", **fields: Any) -> dict[str, Any]:
    change = await approved(http, svc, token, **fields)
    return await ok(http, svc, change, "schedule")


async def published(settings, subjects: str, count: int) -> list[Envelope]:
    """Exactly `count` events on `subjects` (e.g. `change.>`) in this test's stream, and no more."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        stream = f"{settings.bus_prefix.upper()}_EVENTS"  # see libs/bus.py
        sub = await js.pull_subscribe(f"{settings.bus_prefix}.{subjects}", stream=stream)
        got: list[Envelope] = []

        async def fetched() -> bool:
            try:
                got.extend(Envelope.decode(m.data) for m in await sub.fetch(count - len(got), timeout=0.5))
            except TimeoutError:  # nats-py raises its own subclass, or a bare one when the deadline ran out
                pass
            return len(got) >= count

        await eventually(fetched)
        with pytest.raises(TimeoutError):  # and nothing more than expected
            await sub.fetch(1, timeout=0.3)
        return got
    finally:
        await nc.close()


async def change_events(settings, count: int) -> list[Envelope]:
    return await published(settings, "change.>", count)
