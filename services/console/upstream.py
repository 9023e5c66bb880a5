"""The console's only way to incident, change, SLA and report data: the other services' HTTP APIs, called with
the signed-in user's own API token, so their role checks and tenant walls are the only ones.

TIERLINE_API_URLS names a base URL per service (compose), else every path goes to TIERLINE_API_URL (the
stack's own base URL under `tierline up`). Which service answers which path is the console's knowledge as a
client (`OWNERS`): the prefixes each service declares in its SERVICE spec; a test keeps the two in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from libs.settings import Settings

TIMEOUT = aiohttp.ClientTimeout(total=15, connect=3)
# API path prefix -> the service that answers it (longest prefix wins), for the APIs the console calls.
OWNERS = {
    "/v1/webhooks/": "intake",
    "/v1/incidents": "triage",
    "/v1/alerts/": "triage",
    "/v1/provider-incidents": "triage",
    "/v1/deadletters": "triage",
    "/v1/sla/": "escalation",
    "/v1/schedules": "escalation",
    "/v1/ack/": "escalation",
    "/v1/changes": "change",
    "/v1/reports": "reporting",
    "/v1/ledger/": "reporting",
}


def owner_of(path: str) -> str | None:
    matches = [p for p in OWNERS if path.startswith(p)]
    return OWNERS[max(matches, key=len)] if matches else None


@dataclass(frozen=True)
class Answer:
    """An API's answer: status and JSON body (or text for HTML and CSV)."""

    status: int
    body: Any
    content_type: str = "application/json"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> dict[str, Any]:
        """The API's `{"error": {code, message, details}}`, or one made up for an answer without it."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]
        return {"code": f"http_{self.status}", "message": f"the API answered {self.status}", "details": []}


UNREACHABLE = "service_unavailable"


class Upstream:
    def __init__(self, settings: Settings) -> None:
        self.base = (settings.api_url or "").rstrip("/")
        self.by_service = {k: v.rstrip("/") for k, v in settings.api_urls.items()}
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # One session for every user's calls: it must keep no cookies between them.
        self.session = aiohttp.ClientSession(
            timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=256), cookie_jar=aiohttp.DummyCookieJar()
        )

    async def close(self) -> None:
        if self.session:
            await self.session.close()

    def url(self, path: str) -> str | None:
        service = owner_of(path)
        base = self.by_service.get(service or "") or self.base
        return f"{base}{path}" if base else None

    async def call(
        self, token: str, method: str, path: str, *, params: dict[str, str] | None = None, json_body: Any = None
    ) -> Answer:
        """One API call as the user; a service that cannot be reached is a 503 answer, never an exception."""
        url = self.url(path)
        if url is None or self.session is None:
            return _unreachable(path, "no API URL configured (TIERLINE_API_URL or TIERLINE_API_URLS)")
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self.session.request(
                method, url, params=params, json=json_body, headers=headers, allow_redirects=False
            ) as r:
                kind = r.headers.get("Content-Type", "").split(";")[0]
                raw = await r.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            return _unreachable(path, f"{owner_of(path) or 'the API'} is not answering ({type(exc).__name__})")
        if kind == "application/json":
            try:
                return Answer(r.status, json.loads(raw), kind)
            except ValueError:
                pass
        return Answer(r.status, raw.decode(errors="replace"), kind)

    async def get(self, token: str, path: str, **params: str) -> Answer:
        return await self.call(token, "GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    async def post(self, token: str, path: str, body: Any) -> Answer:
        return await self.call(token, "POST", path, json_body=body)

    async def delete(self, token: str, path: str) -> Answer:
        return await self.call(token, "DELETE", path)


def _unreachable(path: str, message: str) -> Answer:
    return Answer(503, {"error": {"code": UNREACHABLE, "message": message, "details": [{"path": path}]}})
