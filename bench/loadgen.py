"""The benchmark's open-loop load generator, in its own process so that its CPU is not the stack's.

`bench.pipeline` starts one per step: `python -m bench.loadgen URL KEY MIX RATE SECONDS`. It imports, says
`ready` on stdout, waits for a line on stdin (the meter starts then), sends the step and prints one JSON
line: when it started, the CPU seconds it used, each accepted alert's due time and the count of each HTTP
status (0: no answer).
Requests are due on a fixed schedule whether or not earlier ones finished.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime

import aiohttp

REPEAT_KEYS = [f"open-{i}" for i in range(200)]


class Load:
    def __init__(self, http: aiohttp.ClientSession, url: str, key: str) -> None:
        self.http, self.url, self.key = http, url, key
        self.due: dict[str, float] = {}
        self.status: dict[int, int] = {}
        self.inflight = asyncio.Semaphore(256)

    async def one(self, path: str, body: dict, due: float) -> None:
        async with self.inflight:
            try:
                async with self.http.post(f"{self.url}{path}", json=body, headers={"X-Tierline-Key": self.key}) as r:
                    self.status[r.status] = self.status.get(r.status, 0) + 1
                    if r.status == 202:
                        answer = await r.json()
                        for alert in answer.get("alerts", [answer]):
                            self.due[alert["alert_id"]] = due
            except aiohttp.ClientError:
                self.status[0] = self.status.get(0, 0) + 1

    async def run(self, rate: float, seconds: float, mix: str) -> float:
        """`rate` is alerts per second; an Alertmanager step (am1, am10, am100) sends that many per request."""
        per = int(mix[2:]) if mix.startswith("am") else 1
        tasks, start, n, i = [], time.time(), int(rate * seconds / per), 0
        while i < n:
            now = time.time()
            while i < n and start + i * per / rate <= now:
                due = start + i * per / rate
                path, body = request(mix, i, per)
                tasks.append(asyncio.create_task(self.one(path, body, due)))
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        return start


def request(mix: str, i: int, per: int) -> tuple[str, dict]:
    if mix.startswith("am"):
        return "/v1/webhooks/alertmanager", notification(per)
    new = mix == "new" or (mix == "mix" and i % 2 == 0)
    key = uuid.uuid4().hex if new else REPEAT_KEYS[i % len(REPEAT_KEYS)]
    # `seq` makes every request a new delivery (identical content would be a retry, stored once)
    body = {"summary": f"bench {key}", "severity": "error", "service": "erp-db", "dedup_key": key,
            "labels": {"seq": str(i)}}  # fmt: skip
    return "/v1/webhooks/generic", body


def notification(alerts: int) -> dict:
    """An Alertmanager v4 notification with `alerts` new firing alerts (each opens an incident)."""
    now = datetime.now(UTC).isoformat()
    return {
        "version": "4", "groupKey": "{}:{alertname=\"BenchDown\"}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "tierline", "groupLabels": {"alertname": "BenchDown"}, "commonLabels": {"service": "erp-db"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "BenchDown", "instance": f"host-{k}", "severity": "error",
                                            "service": "erp-db"},
             "annotations": {"summary": "bench"}, "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": uuid.uuid4().hex[:16]}
            for k in range(alerts)
        ],
    }  # fmt: skip


async def main(url: str, key: str, mix: str, rate: float, seconds: float) -> None:
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as http:
        load = Load(http, url, key)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        cpu0 = time.process_time()
        start = await load.run(rate, seconds, mix)
        cpu = time.process_time() - cpu0
    print(json.dumps({"start": start, "cpu": cpu, "due": load.due, "status": load.status}), flush=True)


if __name__ == "__main__":
    url, key, mix, rate, seconds = sys.argv[1:6]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(url, key, mix, float(rate), float(seconds)))
