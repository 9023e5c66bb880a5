"""Outbound notifications against a local receiver: signed webhooks retried after a 500, the dead-letter
record after the last try, Slack-compatible payloads, e-mail over SMTP, and the API that shows every attempt."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from datetime import datetime
from pathlib import Path

from aiohttp import web
from aiosmtpd.controller import Controller

from libs.localstack import LocalPostgres, free_port
from libs.testing import fresh_settings
from tests.conftest import TEST_CONFIG, auth, eventually
from tests.escalation.support import SECRET, Bus, Mailbox, Receiver, stream_events, write_config

ROOT = Path(__file__).resolve().parents[2]
SLA = {p: {"respond": "1h", "resolve": "8h"} for p in ("P1", "P2", "P3", "P4", "P5")}


def documented_verify():
    """The receiver-side check exactly as docs/sla.md shows it, so the documentation cannot rot."""
    doc = (ROOT / "docs" / "sla.md").read_text()
    snippet = re.search(r"### Verifying a webhook.*?```python\n(.*?)```", doc, re.S).group(1)
    scope: dict = {}
    exec(snippet, scope)
    return scope["verify"]


verify = documented_verify()


async def start_with(settings, start, tmp_path, targets, **extra):
    path = write_config(tmp_path, {"contract": {"sla": SLA}, "notifications": {"targets": targets}}, **extra)
    settings = settings.model_copy(update={"config": path, "notify_backoff_s": 0.3, "notify_max_attempts": 3})
    return settings, await start("escalation", settings)


async def listed(http, esc, query, token="admin-token"):
    async with http.get(f"{esc.url}/v1/sla/notifications?{query}", headers=auth(token)) as r:
        return r.status, await r.json()


async def test_webhook_is_signed_and_retried_after_a_500(settings, start, http, tmp_path):
    receiver = await Receiver(statuses=[500]).start()
    hook = {"name": "ticketing", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET,
            "triggers": ["resolved"]}  # fmt: skip
    settings, esc = await start_with(settings, start, tmp_path, [hook])
    inc = await Bus.open(settings, "P3")
    await inc.opened()
    await inc.resolved(5)

    async def delivered():
        _, body = await listed(http, esc, f"incident={inc.iid}")
        return body["items"] and body["items"][0]["status"] == "delivered" and body["items"][0]

    item = await eventually(delivered)
    assert (item["target"], item["kind"], item["trigger"], item["attempts"]) == ("ticketing", "webhook", "resolved", 2)
    first, second = item["attempt_log"]
    assert (first["ok"], first["status_code"], first["error"]) == (False, 500, "HTTP 500")
    assert (second["ok"], second["status_code"]) == (True, 200)
    # The retry waited at least the configured backoff.
    gap = datetime.fromisoformat(second["at"]) - datetime.fromisoformat(first["at"])
    assert gap.total_seconds() >= 0.3
    requests = receiver.on("/hook")
    assert len(requests) == 2
    for headers, body in requests:
        assert verify(SECRET, headers, body)
        assert not verify("another-secret", headers, body)
        assert headers["Tierline-Delivery"] == item["id"]
        sent = json.loads(body)
        assert (sent["trigger"], sent["tenant"], sent["incident"]["id"]) == ("resolved", "acme", inc.iid)
        assert sent["event"]["type"] == "incident.resolved"
    tampered = requests[1][1].replace(b"resolved", b"reopened")
    assert not verify(SECRET, requests[1][0], tampered)
    delivered_events = await stream_events(settings, {"notification.delivered"}, inc.iid)
    assert [d["attempts"] for _, d in delivered_events] == [2]
    await inc.close()
    await receiver.stop()


async def test_dead_letter_record_after_the_last_try_with_exponential_backoff(settings, start, http, tmp_path):
    receiver = await Receiver(statuses=[500, 503, 500, 500]).start()
    hook = {"name": "ticketing", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET,
            "triggers": ["resolved"]}  # fmt: skip
    settings, esc = await start_with(settings, start, tmp_path, [hook])
    inc = await Bus.open(settings, "P3")
    await inc.opened()
    await inc.resolved(5)

    async def dead():
        _, body = await listed(http, esc, "status=dead&tenant=acme")
        return body["items"] and body["items"][0]

    item = await eventually(dead, timeout=15)
    assert item["attempts"] == 3 and item["last_error"] == "HTTP 500"
    ats = [datetime.fromisoformat(a["at"]) for a in item["attempt_log"]]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ats)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6  # 1 x then 2 x the base delay
    assert [a["status_code"] for a in item["attempt_log"]] == [500, 503, 500]
    [(_, outcome)] = await stream_events(settings, {"notification.dead_lettered"}, inc.iid)
    assert (outcome["status"], outcome["attempts"], outcome["target"]) == ("dead", 3, "ticketing")
    assert len(receiver.on("/hook")) == 3  # nothing after the last try
    await inc.close()
    await receiver.stop()


async def test_slack_payload_and_email(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        targets = [
            {"name": "chat", "kind": "slack", "url": f"{receiver.url}/slack", "triggers": ["opened"]},
            {"name": "duty", "kind": "email", "to": ["duty@acme.example"], "triggers": ["opened"]},
        ]
        relay = {"smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "tierline@msp.example"}}
        settings, esc = await start_with(settings, start, tmp_path, targets, **relay)
        inc = await Bus.open(settings, "P1", number="ACME-77")
        await inc.opened()
        low = await Bus.open(settings, "P4", number="ACME-78")  # opened notifies at P1/P2 only
        await low.opened()

        async def both():
            return receiver.on("/slack") and mailbox.messages

        await eventually(both)
        [(_, body)] = receiver.on("/slack")
        slack = json.loads(body)
        assert slack["text"] == "[P1] ACME-77 ERP DB down: opened at Tier 1"
        assert slack["blocks"][0]["type"] == "section"
        [(sender, rcpt, content)] = mailbox.messages
        assert (sender, rcpt) == ("tierline@msp.example", ["duty@acme.example"])
        assert b"Subject: [P1] ACME-77 ERP DB down: opened at Tier 1" in content

        async def delivered():  # the receiver may get a send a moment before the sender records it as delivered
            _, listing = await listed(http, esc, "tenant=acme&status=delivered")
            return len(listing["items"]) >= 2 and listing

        listing = await eventually(delivered)
        assert sorted(i["kind"] for i in listing["items"]) == ["email", "slack"]
        assert {i["number"] for i in listing["items"]} == {"ACME-77"}
        await inc.close()
        await low.close()
    finally:
        smtp.stop()
        await receiver.stop()


async def test_notifications_api_tenant_wall_and_bad_queries(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    hook = {"name": "ticketing", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET}
    settings, esc = await start_with(settings, start, tmp_path, [hook])
    inc = await Bus.open(settings, "P1")
    await inc.opened()
    await eventually(lambda: _has_items(http, esc, "tenant=acme"))
    status, body = await listed(http, esc, "", token="acme-viewer-token")
    assert status == 200 and body["items"] and {i["tenant"] for i in body["items"]} == {"acme"}
    status, body = await listed(http, esc, "", token="globex-viewer-token")
    assert status == 200 and body["items"] == []
    status, body = await listed(http, esc, "tenant=acme", token="globex-viewer-token")
    assert status == 404
    status, body = await listed(http, esc, "status=lost&tennant=x")
    assert status == 400 and {d["field"] for d in body["error"]["details"]} == {"status", "tennant"}
    await inc.close()
    await receiver.stop()


async def _has_items(http, esc, query):
    _, body = await listed(http, esc, query)
    return bool(body["items"])


async def test_each_attempt_is_recorded_as_its_answer_arrives_not_with_the_batch(settings, start, http, tmp_path):
    """A kill -9 between a send and its record makes that delivery go out again after its lease. The chaos suite
    saw a whole batch (50) sent twice when the record waited for the batch's slowest send; now each attempt commits
    the moment its answer is in, so a slow target leaves the fast ones recorded."""
    release = asyncio.Event()

    async def hold_slow(request: web.Request) -> None:
        if request.path == "/slow":
            await release.wait()

    receiver = await Receiver(before=hold_slow).start()
    try:
        hooks = [{"name": n, "kind": "webhook", "url": f"{receiver.url}/{n}", "secret": SECRET,
                  "triggers": ["resolved"]} for n in ("fast", "slow")]  # fmt: skip
        # The slow one is not given up on within the test: only its answer can finish the batch.
        settings, esc = await start_with(settings.model_copy(update={"notify_timeout_s": 60}), start, tmp_path, hooks)
        inc = await Bus.open(settings, "P3")
        await inc.opened()
        await inc.resolved(5)

        async def statuses():
            _, body = await listed(http, esc, f"incident={inc.iid}")
            found = {i["target"]: i["status"] for i in body["items"]}
            return found if found.get("fast") == "delivered" else None

        assert await eventually(statuses) == {"fast": "delivered", "slow": "pending"}  # the slow one still out
        release.set()

        async def both():
            _, body = await listed(http, esc, f"incident={inc.iid}&status=delivered")
            return len(body["items"]) == 2

        await eventually(both)
        await inc.close()
    finally:
        release.set()
        await receiver.stop()


async def test_an_answer_that_arrives_while_postgres_is_away_is_recorded_once_it_is_back(tmp_path, real_servers, start,
                                                                                         http):  # fmt: skip
    """The chaos suite's 30 s PostgreSQL outage re-sent a batch of webhooks: their targets had answered, the record
    could not commit, and after the lease they went out again. The answer is kept and recorded once the database is
    back, so the target hears it once."""
    pg = LocalPostgres()
    db_url = await pg.start(tmp_path / "pg")
    port = int(db_url.rsplit(":", 1)[1].split("/")[0])
    arrived, release, seen = asyncio.Event(), asyncio.Event(), []

    async def hold(request: web.Request) -> None:
        seen.append(request.headers["Tierline-Delivery"])
        arrived.set()
        await release.wait()

    receiver = await Receiver(before=hold).start()
    try:
        hook = {"name": "ticketing", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET,
                "triggers": ["resolved"]}  # fmt: skip
        base = fresh_settings(real_servers, db_url, TEST_CONFIG, dependency_backoff_s=[0.1, 0.2, 0.5])
        settings, esc = await start_with(base, start, tmp_path, [hook])
        inc = await Bus.open(settings, "P3")
        await inc.opened()
        await inc.resolved(5)
        await asyncio.wait_for(arrived.wait(), 30)
        await pg.stop()  # while the target is still answering: its answer comes with the database away
        release.set()
        await asyncio.sleep(1.5)
        pg = LocalPostgres()
        await pg.start(tmp_path / "pg", port=port)

        async def delivered():
            with contextlib.suppress(Exception):
                _, body = await listed(http, esc, f"incident={inc.iid}")
                return body["items"] and body["items"][0]["status"] == "delivered" and body["items"][0]

        item = await eventually(delivered, timeout=30)
        assert item["attempts"] == 1 and len(seen) == 1  # recorded from the one answer, never sent again
        await inc.close()
    finally:
        release.set()
        await receiver.stop()
        await pg.stop()
