"""What intake tests read back: the events on this test's stream, and a JSON POST helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from libs.testing import stream_envelopes

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intake"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


async def stored(settings, short_type: str | None = None) -> list[dict]:
    """Every event on this test's stream (optionally of one type) as JSON, oldest first; without a type, every event
    but the first start's `config.applied` (the configuration's, not intake's)."""
    return [
        e.model_dump(mode="json")
        for e in await stream_envelopes(settings)
        if e.short_type == short_type or (short_type is None and e.short_type != "config.applied")
    ]


async def post(http, url, body: Any = None, headers=None, raw: bytes | None = None):
    """POST JSON (or raw bytes) with Content-Type application/json unless the caller sets another."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    data = raw if raw is not None else json.dumps(body).encode()
    async with http.post(url, data=data, headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers
