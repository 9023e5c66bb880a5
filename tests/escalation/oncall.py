"""Helpers for the on-call stack tests: a config whose people are reached at a local receiver (or mailbox), the
pages the receiver got, and a schedule or override API call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import auth
from tests.escalation.support import SECRET, Receiver, write_config

SLA = {p: {"respond": "4h", "resolve": "2d"} for p in ("P1", "P2", "P3", "P4", "P5")}
ANCHOR = "2026-01-05T09:00:00"  # a Monday


def person(name: str, url: str, *extra: dict[str, Any], user: str | None = None) -> dict[str, Any]:
    """Someone paged first by a signed webhook at `url/<name>`, then by each of `extra`."""
    first = {"kind": "webhook", "url": f"{url}/{name}", "secret": SECRET}
    return {"name": name, **({"user": user} if user else {}), "contact_methods": [first, *extra]}


def rota(schedule_id: str, *users: str, length: str = "1w", **extra: Any) -> dict[str, Any]:
    layer = {"name": "main", "users": list(users), "rotation": {"length": length}, "start": ANCHOR}
    return {"id": schedule_id, "name": schedule_id.title(), "timezone": "Europe/London", "layers": [layer], **extra}


def oncall_config(
    tmp_path: Path,
    receiver: Receiver,
    *,
    steps: list[dict[str, Any]],
    people: list[dict[str, Any]] | None = None,
    schedules: list[dict[str, Any]] | None = None,
    **provider: Any,
) -> Path:
    """The test config with provider people ann, bob and carl (webhooks at the receiver), schedules `primary`
    (ann) and `secondary` (bob), and Acme's escalation `steps`."""
    url = receiver.url
    people = people or [person("ann", url), person("bob", url), person("carl", url)]
    schedules = schedules or [rota("primary", "ann"), rota("secondary", "bob")]
    acme = {"contract": {"sla": SLA}, "escalation": {"steps": steps}}
    return write_config(tmp_path, acme, people=people, schedules=schedules, **provider)


def pages(receiver: Receiver, who: str) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.on(f"/{who}")]


async def api(http, method: str, url: str, token: str = "admin-token", body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body, headers=auth(token)) as r:
        kind = r.headers.get("Content-Type", "")
        return r.status, await (r.json() if kind.startswith("application/json") else r.text())


def paged(receiver: Receiver, *who: str, each: int = 1):
    """A check for `eventually`: each of `who` got at least `each` pages."""

    async def check() -> bool:
        return all(len(pages(receiver, w)) >= each for w in who)

    return check


def hit(receiver: Receiver, path: str):
    async def check() -> bool:
        return bool(receiver.on(path))

    return check
