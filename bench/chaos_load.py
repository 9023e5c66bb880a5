"""The chaos suite's load: alerts in the four formats monitoring tools send, at a steady rate, from a sender that
retries as Alertmanager does (5xx, 429 and connection errors again after Retry-After or a growing back-off, the very
same body each time, so a retry is the same alert), spreading requests over intake's replicas like a load balancer.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

FORMATS = ("generic", "alertmanager", "grafana", "pagerduty")
KEYS = {"generic": "chaos-acme-key", "alertmanager": "chaos-am-key", "grafana": "chaos-grafana-key",
        "pagerduty": "chaos-pd-key"}  # fmt: skip
TENANT = {"generic": "acme", "alertmanager": "acme", "grafana": "globex", "pagerduty": "acme"}
REPEAT_SHARE = 0.25  # this share of alerts repeat an earlier problem's dedup key (added to its open incident)


@dataclass(frozen=True)
class Alert:
    seq: int
    fmt: str
    dedup_key: str

    @property
    def tenant(self) -> str:
        return TENANT[self.fmt]

    @property
    def summary(self) -> str:
        """Unique per alert: how the checks find it in triage's incident_alerts, whatever its format."""
        return f"chaos alert {self.seq} on {self.dedup_key}"

    @property
    def key(self) -> tuple[str, str]:
        """The problem it belongs to: one incident per (tenant, dedup key)."""
        return self.tenant, self.dedup_key


def plan(n: int, seed: int = 11) -> list[Alert]:
    """`n` alerts, the formats in turn, a quarter of them repeats of an earlier problem of the same format."""
    rng = random.Random(seed)
    out: list[Alert] = []
    keys: dict[str, list[str]] = {f: [] for f in FORMATS}
    for seq in range(n):
        fmt = FORMATS[seq % len(FORMATS)]
        if keys[fmt] and rng.random() < REPEAT_SHARE:
            key = rng.choice(keys[fmt])
        else:
            key = f"{fmt[:2]}{seq:06d}"
            keys[fmt].append(key)
        out.append(Alert(seq, fmt, key))
    return out


def request(alert: Alert) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, body, headers) of the alert as its tool sends it."""
    now = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=alert.seq)).isoformat()
    labels = {"alertname": "ChaosDown", "instance": alert.dedup_key, "severity": "error", "seq": str(alert.seq)}
    auth = {"Authorization": f"Bearer {KEYS[alert.fmt]}"}
    if alert.fmt == "generic":
        body = {"summary": alert.summary, "severity": "error", "dedup_key": alert.dedup_key,
                "labels": {"seq": str(alert.seq)}}  # fmt: skip
        return "/v1/webhooks/generic", body, {"X-Tierline-Key": KEYS["generic"]}
    if alert.fmt == "pagerduty":
        body = {"routing_key": KEYS["pagerduty"], "event_action": "trigger", "dedup_key": alert.dedup_key,
                "payload": {"summary": alert.summary, "source": alert.dedup_key, "severity": "error",
                            "custom_details": {"seq": alert.seq}}}  # fmt: skip
        return "/v2/enqueue", body, {}
    one = {"status": "firing", "labels": labels, "annotations": {"summary": alert.summary}, "startsAt": now,
           "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": alert.dedup_key}  # fmt: skip
    body = {"version": "4" if alert.fmt == "alertmanager" else "1", "status": "firing", "receiver": "tierline",
            "groupKey": '{}:{alertname="ChaosDown"}', "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://monitor:9093", "alerts": [one]}  # fmt: skip
    return f"/v1/webhooks/{alert.fmt}", body, auth


@dataclass
class Sender:
    """Sends each alert until it is accepted (202), retrying what a tool retries; counts every refusal by code."""

    http: aiohttp.ClientSession
    intake: Any  # () -> list of intake base URLs running now
    accepted: dict[int, tuple[float, list[str]]] = field(default_factory=dict)  # seq -> (when, alert ids)
    refused: Counter[str] = field(default_factory=Counter)  # "503", "conn", ...: every refused attempt
    rejected: dict[int, int] = field(default_factory=dict)  # seq -> a 4xx no tool retries (a harness bug)
    max_backoff_s: float = 10.0
    _turn: int = 0

    async def send(self, alert: Alert, give_up_at: float) -> None:
        path, body, headers = request(alert)
        loop, attempt = asyncio.get_running_loop(), 0
        while loop.time() < give_up_at:
            wait = min(0.25 * 2**attempt, self.max_backoff_s)
            attempt += 1
            urls = self.intake()
            if not urls:
                self.refused["conn"] += 1
                await asyncio.sleep(wait)
                continue
            self._turn += 1
            try:
                async with self.http.post(urls[self._turn % len(urls)] + path, json=body, headers=headers) as r:
                    answer = await r.json(content_type=None)
                    if r.status == 202:
                        ids = [a["alert_id"] for a in answer.get("alerts", [answer]) if "alert_id" in a]
                        self.accepted[alert.seq] = (loop.time(), ids)
                        return
                    if r.status < 500 and r.status != 429:
                        self.rejected[alert.seq] = r.status
                        return
                    self.refused[str(r.status)] += 1
                    wait = float(r.headers.get("Retry-After", wait))
            except (aiohttp.ClientError, TimeoutError, ValueError):
                self.refused["conn"] += 1
            await asyncio.sleep(wait)

    async def run(self, alerts: list[Alert], rate: float, *, give_up_s: float = 300) -> None:
        """Start one alert every 1/rate seconds on schedule, whatever earlier ones are doing; wait for all."""
        loop = asyncio.get_running_loop()
        start, tasks = loop.time(), []
        for i, alert in enumerate(alerts):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.send(alert, loop.time() + give_up_s)))
        await asyncio.gather(*tasks)

    def refusals(self) -> str:
        return ", ".join(f"{code}: {n}" for code, n in sorted(self.refused.items())) or "0"
