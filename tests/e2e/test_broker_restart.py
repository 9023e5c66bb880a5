"""The broker restarts under the services: what intake accepted before and after ends in exactly one incident
update each; while NATS is away intake refuses (503) rather than pretending to accept."""

from __future__ import annotations

import pytest

from libs.localstack import LocalNats, free_port
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def send(http, intake, key: str, seq: int = 0) -> tuple[int, str | None]:
    # `seq` makes each send a new delivery: the same content twice is a retry, stored once.
    body = {"summary": f"{key} unreachable", "severity": "error", "dedup_key": key, "labels": {"seq": str(seq)}}
    try:
        async with http.post(
            f"{intake.url}/v1/webhooks/generic", json=body, headers={"X-Tierline-Key": "acme-key"}
        ) as r:
            return r.status, (await r.json()).get("alert_id")
    except Exception:
        return 0, None


async def test_nats_restart_loses_and_doubles_nothing(tmp_path, settings, start, http):
    nats, port = LocalNats(), free_port()
    url = await nats.start(tmp_path / "nats", port=port)
    # Messages triage had fetched but not yet acknowledged when NATS went away come back after ack_wait.
    settings = settings.model_copy(update={"nats_url": url, "ack_wait_s": 2.0})
    intake = await start("intake", settings)
    triage = await start("triage", settings)
    accepted = []
    for i in range(30):
        status, alert_id = await send(http, intake, f"host-{i % 10}", i)
        assert status == 202
        accepted.append((alert_id, f"host-{i % 10}"))

    await nats.stop()
    status, _ = await send(http, intake, "host-0")
    assert status == 503  # not stored, so not accepted
    nats = LocalNats()
    await nats.start(tmp_path / "nats", port=port)  # same port, same JetStream store
    try:

        async def accepted_again():
            status, alert_id = await send(http, intake, "host-99")
            return status == 202 and alert_id

        accepted.append((await eventually(accepted_again, timeout=30, interval=0.3), "host-99"))
        for i in range(30):
            status, alert_id = await send(http, intake, f"host-{i % 10}", 100 + i)
            assert status == 202
            accepted.append((alert_id, f"host-{i % 10}"))

        async def all_applied():
            async with http.get(
                f"{triage.url}/v1/incidents?limit=500", headers={"Authorization": "Bearer admin-token"}
            ) as r:
                items = (await r.json())["items"]
            return sum(i["occurrences"] for i in items) == len(accepted) and items

        items = await eventually(all_applied, timeout=30)
        assert len(items) == 11  # host-0..9 and host-99: one incident per problem
        assert {i["dedup_key"]: i["occurrences"] for i in items} == {
            **{f"host-{n}": 6 for n in range(10)},
            "host-99": 1,
        }
    finally:
        await nats.stop()
