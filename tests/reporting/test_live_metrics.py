"""Reporting's /metrics: open incidents by priority and tier, this month's breaches, time to acknowledge."""

from __future__ import annotations

import re
from datetime import timedelta

from libs.bus import connect_bus
from libs.contracts import IncidentEscalated
from libs.events import utcnow
from tests.conftest import eventually
from tests.events import Incident


def sample(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return None


async def metrics(http, svc) -> str:
    async with http.get(f"{svc.url}/metrics") as r:
        return await r.text()


async def test_live_figures(settings, start, http):
    svc = await start("reporting", settings)
    before = await metrics(http, svc)
    acked_before = sample(before, "tierline_time_to_acknowledge_seconds_count", tenant="acme", priority="P1") or 0
    now = utcnow() - timedelta(seconds=200)  # this month, whenever the test runs (but its first minutes)
    a, b, c = Incident("live-a", "P1", now), Incident("live-b", "P2", now), Incident("live-c", "P2", now)
    escalated = b._event(
        "incident.escalated",
        IncidentEscalated(**b.ref, from_tier=1, to_tier=2, reason="breach", at=now + timedelta(seconds=5)),
        now + timedelta(seconds=5),
    )
    ack = a.acknowledged(120)
    bus = await connect_bus(settings, name="test")
    try:
        await bus.publish_many([a.opened(), b.opened(), c.opened(), escalated, ack, c.resolved(60),
                                b.breached("response", 30)])  # fmt: skip
        # The same acknowledgement again under another message id: recorded once, observed once.
        await bus.js.publish(bus.subject_of(ack), ack.encode(), headers={"Nats-Msg-Id": ack.id + "-again"})
    finally:
        await bus.close()

    async def settled():
        text = await metrics(http, svc)
        ok = sample(text, "tierline_open_incidents", tenant="acme", priority="P2", tier="2") == 1
        return ok and text

    text = await eventually(settled, timeout=20)
    assert sample(text, "tierline_open_incidents", tenant="acme", priority="P1", tier="1") == 1
    assert sample(text, "tierline_open_incidents", tenant="acme", priority="P2", tier="1") is None  # c resolved
    assert sample(text, "tierline_sla_breaches_this_month", tenant="acme", clock="response") == 1
    count = sample(text, "tierline_time_to_acknowledge_seconds_count", tenant="acme", priority="P1")
    assert count == acked_before + 1
    assert sample(text, "tierline_time_to_acknowledge_seconds_bucket", tenant="acme", priority="P1", le="300.0")
