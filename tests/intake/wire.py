"""What intake tests read back: the events on this test's stream, and a JSON POST helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from libs.bus import connect_bus

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intake"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


async def stored(settings, short_type: str | None = None) -> list[dict]:
    """Every event on this test's stream (optionally of one type), oldest first."""
    bus = await connect_bus(settings, name="probe")
    try:
        info = await bus.js.stream_info(bus.stream)
        out = []
        for seq in range(info.state.first_seq or 1, info.state.last_seq + 1):
            msg = await bus.js.get_msg(bus.stream, seq)
            out.append(json.loads(msg.data))
        return [e for e in out if short_type is None or e["type"] == f"tierline.{short_type}"]
    finally:
        await bus.close()


async def post(http, url, body: Any = None, headers=None, raw: bytes | None = None):
    """POST JSON (or raw bytes) with Content-Type application/json unless the caller sets another."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    data = raw if raw is not None else json.dumps(body).encode()
    async with http.post(url, data=data, headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers
