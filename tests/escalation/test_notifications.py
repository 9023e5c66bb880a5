"""Outbound notifications against a local receiver: signed webhooks retried after a 500, the dead-letter
record after the last try, Slack-compatible payloads, e-mail over SMTP, and the API that shows every attempt."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from pathlib import Path

from aiosmtpd.controller import Controller

from libs.localstack import free_port
from tests.conftest import auth, eventually
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
