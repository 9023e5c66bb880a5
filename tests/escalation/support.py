"""Helpers for escalation's stack tests: a config written per test (targets point at local receivers), a
webhook receiver on 127.0.0.1, an SMTP receiver, incident events published onto the bus, and a probe that
reads back every event of some types in stream order."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from libs.bus import connect_bus
from libs.contracts import IncidentEscalated, IncidentHeld, IncidentPriorityChanged, IncidentReopened, IncidentResumed
from libs.events import raise_event, utcnow
from libs.localstack import free_port
from libs.testing import stream_envelopes
from tests.conftest import TEST_CONFIG
from tests.events import Incident

SECRET = "whsec-test-0123456789"


def write_config(tmp_path: Path, acme: dict[str, Any], name: str = "tierline.yaml", **provider: Any) -> Path:
    """The shared test config with acme's contract/escalation/notifications replaced by `acme`'s keys."""
    raw = yaml.safe_load(TEST_CONFIG.read_text())
    raw = copy.deepcopy(raw)
    raw["provider"].update(provider)
    tenant = next(t for t in raw["tenants"] if t["id"] == "acme")
    for key, value in acme.items():
        if key == "contract":
            tenant["contract"].update(value)
        else:
            tenant[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


@dataclass
class Receiver:
    """An HTTP receiver for outbound webhooks: answers with `statuses` in turn (then 200), records each request."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    before: Callable[[web.Request], Awaitable[None]] | None = None  # e.g. to hold an answer back
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.before is not None:
            await self.before(request)
        body = await request.read()
        self.requests.append((request.path, dict(request.headers), body))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": status < 300}, status=status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{path:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def on(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in self.requests if p == path]


class Mailbox:
    """An aiosmtpd handler keeping every mail it receives: (envelope sender, recipients, raw message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class Bus:
    """Publishes one incident's events, as triage would."""

    def __init__(self, bus: Any, incident: Incident) -> None:
        self.bus, self.incident = bus, incident

    @classmethod
    async def open(cls, settings: Any, priority: str = "P1", opened_at: datetime | None = None, **kw: Any) -> Bus:
        iid = str(uuid.uuid4())
        number = kw.pop("number", f"ACME-{iid[:4]}")
        return cls(
            await connect_bus(settings, name="test"),
            Incident(iid, priority, opened_at or utcnow(), number=number, **kw),
        )

    @property
    def iid(self) -> str:
        return self.incident.ref["incident_id"]

    async def opened(self, category: str = "infrastructure") -> None:
        env = self.incident.opened()
        await self.bus.publish(env.model_copy(update={"data": {**env.data, "category": category}}))

    async def acknowledged(self, after_s: float) -> None:
        await self.bus.publish(self.incident.acknowledged(after_s))

    async def resolved(self, after_s: float) -> None:
        await self.bus.publish(self.incident.resolved(after_s))

    def _at(self, after_s: float) -> datetime:
        return self.incident.opened_at + timedelta(seconds=after_s)

    async def held(self, after_s: float, reason: str = "pending_customer") -> None:
        payload = IncidentHeld(**self.incident.ref, reason=reason, by="eve", at=self._at(after_s))  # type: ignore[arg-type]
        await self.bus.publish(raise_event("incident.held", payload, source="test", tenant="acme"))

    async def resumed(self, after_s: float, reason: str = "pending_customer") -> None:
        payload = IncidentResumed(**self.incident.ref, reason=reason, by="eve", at=self._at(after_s))  # type: ignore[arg-type]
        await self.bus.publish(raise_event("incident.resumed", payload, source="test", tenant="acme"))

    async def escalated(self, from_tier: int, to_tier: int, reason: str = "manual") -> None:
        payload = IncidentEscalated(
            **self.incident.ref, from_tier=from_tier, to_tier=to_tier, reason=reason, at=utcnow()
        )
        await self.bus.publish(raise_event("incident.escalated", payload, source="test", tenant="acme"))

    async def priority_changed(self, from_priority: str, to_priority: str, after_s: float) -> None:
        payload = IncidentPriorityChanged(
            **self.incident.ref,
            from_priority=from_priority,
            to_priority=to_priority,
            by="eve",
            at=self._at(after_s),
            reason="impact reassessed",
        )  # type: ignore[arg-type]
        await self.bus.publish(raise_event("incident.priority_changed", payload, source="test", tenant="acme"))

    async def reopened(self, after_s: float, state: str | None = None) -> None:
        payload = IncidentReopened(**self.incident.ref, by="eve", at=self._at(after_s), reason="manual", state=state)  # type: ignore[arg-type]
        await self.bus.publish(raise_event("incident.reopened", payload, source="test", tenant="acme"))

    async def close(self) -> None:
        await self.bus.close()


async def stream_events(settings: Any, types: set[str], incident_id: str | None = None) -> list[tuple[str, dict]]:
    """(type, data) of every event of `types` on this test's stream, in stream order."""
    return [
        (e.short_type, e.data)
        for e in await stream_envelopes(settings)
        if e.short_type in types and (incident_id is None or e.data.get("incident_id") == incident_id)
    ]
