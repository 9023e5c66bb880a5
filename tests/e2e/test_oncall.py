"""On call across the stack (intake, triage, escalation, reporting on real NATS and PostgreSQL): a page's
acknowledge link acknowledges once as the person paged and stops the escalation; a second use is refused;
the incident shows who was paged and through which link; a mail received by a local SMTP server (aiosmtpd)
carries the link the test follows; the `.ics` feed parses with icalendar and matches the shifts API; the walls
around schedules; an override on a tenant's schedule is on its ledger."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import icalendar
from aiosmtpd.controller import Controller

from libs.events import utcnow
from libs.localstack import free_port
from tests.conftest import eventually
from tests.escalation.oncall import api, oncall_config, paged, pages, person
from tests.escalation.support import Mailbox, Receiver

STEPS = [{"tier": 1, "after": "2s", "notify": ["schedule:primary"]},
         {"tier": 2, "after": "10m", "notify": ["schedule:secondary"]}]  # fmt: skip


async def stack(settings, start, config, *names):
    settings = settings.model_copy(update={"config": config, "notify_backoff_s": 0.3})
    return settings, {n: await start(n, settings) for n in ("intake", "triage", "escalation", *names)}


async def alert(http, svc, dedup_key: str) -> dict:
    body = {"summary": "ERP database down", "severity": "warning", "service": "erp-db", "dedup_key": dedup_key}
    async with http.post(f"{svc['intake'].url}/v1/webhooks/generic", json=body,
                         headers={"X-Tierline-Key": "acme-key"}) as r:  # fmt: skip
        assert r.status == 202

    async def opened():
        _, found = await api(http, "GET", f"{svc['triage'].url}/v1/incidents?tenant=acme")
        return next((i for i in found["items"] if i["dedup_key"] == dedup_key), None)

    return await eventually(opened)


async def incident(http, svc, ref) -> dict:
    return (await api(http, "GET", f"{svc['triage'].url}/v1/incidents/{ref}"))[1]


async def test_the_ack_link_acknowledges_once_as_the_person_and_stops_escalation(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    people = [person("ann", receiver.url, user="eve"), person("bob", receiver.url)]  # ann signs in as eve
    config = oncall_config(tmp_path, receiver, steps=STEPS, people=people)
    settings, svc = await stack(settings, start, config)
    found = await alert(http, svc, "erp-ack")
    await eventually(paged(receiver, "ann"))
    [page] = pages(receiver, "ann")
    ack, resolve = page["links"]["acknowledge"], page["links"]["resolve"]

    async with http.get(ack) as r:  # what a mail scanner's prefetch does: shows a page, changes nothing
        text = await r.text()
        assert r.status == 200 and '<form method="post">' in text and r.headers["Referrer-Policy"] == "no-referrer"
        assert f"Acknowledge {found['number']}" in text and "eve" in text
    await asyncio.sleep(0.5)
    assert (await incident(http, svc, found["number"]))["state"] == "new"
    async with http.post(ack) as r:
        assert r.status == 200 and "acknowledged" in await r.text()

    async def acknowledged():
        i = await incident(http, svc, found["number"])
        return i["state"] == "acknowledged" and i

    after = await eventually(acknowledged)
    entry = next(e for e in after["timeline"] if e["kind"] == "acknowledged")
    assert (entry["actor"], entry["detail"]["via"], entry["detail"]["person"]) == ("eve", "page link", "ann")
    assert entry["detail"]["notification_id"] == page["id"] and entry["detail"]["method"] == "webhook"
    paged_entry = next(e for e in after["timeline"] if e["kind"] == "paged")
    assert (paged_entry["detail"]["person"], paged_entry["detail"]["method"]) == ("ann", "webhook")

    for method in ("POST", "GET"):  # a second use is refused, and says so
        async with http.request(method, ack) as r:
            assert r.status == 410 and "used already" in await r.text()
    async with http.post(ack.rsplit("/", 1)[0] + "/not-a-token") as r:
        assert r.status == 404 and "not valid" in await r.text()
    await asyncio.sleep(3)  # past step 1's 2 s: acknowledged, so step 2 pages nobody
    assert pages(receiver, "bob") == []
    _, policy_now = await api(http, "GET", f"{svc['escalation'].url}/v1/sla/incidents/{found['id']}")
    assert policy_now["escalation"]["state"] == "acknowledged"

    async with http.post(resolve) as r:  # the page's other link still works, once
        assert r.status == 200
    resolved = await eventually(lambda: _state(http, svc, found["number"], "resolved"))
    entry = next(e for e in resolved["timeline"] if e["kind"] == "resolved")
    assert entry["detail"]["resolution_code"] == "solved" and entry["detail"]["via"] == "page link"
    await receiver.stop()


async def _state(http, svc, ref, state):
    i = await incident(http, svc, ref)
    return i["state"] == state and i


async def test_a_page_by_mail_carries_the_link_the_test_follows(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        ann = {"name": "ann", "contact_methods": [{"kind": "email", "to": "ann@msp.example"}]}
        relay = {"host": "127.0.0.1", "port": smtp.port, "sender": "pager@msp.example"}
        config = oncall_config(tmp_path, receiver, steps=STEPS, people=[ann, person("bob", receiver.url)], smtp=relay)
        settings, svc = await stack(settings, start, config)
        found = await alert(http, svc, "erp-mail")
        await eventually(lambda: _has_mail(mailbox))
        mail = message_from_bytes(mailbox.messages[0][2], policy=policy.default)
        assert mail["To"] == "ann@msp.example" and found["number"] in mail["Subject"]
        text = mail.get_body().get_content()
        link = re.search(r"^Acknowledge: (\S+)", text, re.M).group(1)
        async with http.get(link) as r:
            assert r.status == 200
        async with http.post(link) as r:
            assert r.status == 200
        after = await eventually(lambda: _state(http, svc, found["number"], "acknowledged"))
        entry = next(e for e in after["timeline"] if e["kind"] == "acknowledged")
        assert (entry["actor"], entry["detail"]["method"]) == ("ann", "email")
    finally:
        smtp.stop()
        await receiver.stop()


async def _has_mail(mailbox):
    return bool(mailbox.messages)


async def test_the_feed_parses_and_matches_the_shifts_and_schedules_keep_their_walls(settings, start, http, tmp_path):
    settings, svc = await stack(settings, start, settings.config, "reporting")
    esc = svc["escalation"].url
    status, noc = await api(http, "GET", f"{esc}/v1/schedules/noc", "manager-token")
    assert status == 200 and [layer["name"] for layer in noc["layers"]] == ["weekly", "weekend"]
    async with http.get(noc["ics_url"]) as r:
        assert r.status == 200 and r.content_type == "text/calendar"
        feed = icalendar.Calendar.from_ical(await r.read())
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    window = {"from": (today - timedelta(days=14)).isoformat(), "to": (today + timedelta(days=56)).isoformat()}
    async with http.get(
        f"{esc}/v1/schedules/noc/shifts", params=window, headers={"Authorization": "Bearer eng-token"}
    ) as r:
        shifts = (await r.json())["shifts"]
    events = [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in feed.walk("VEVENT")]
    expected = [(_t(s["start"]), _t(s["end"]), f"On call: {s['user']} (NOC)") for s in shifts]
    assert events == expected and len(events) > 10
    async with http.get(noc["user_ics_urls"]["wendy"]) as r:
        mine = icalendar.Calendar.from_ical(await r.read())
    assert [e.decoded("dtstart") for e in mine.walk("VEVENT")] == [
        _t(s["start"]) for s in shifts if s["user"] == "wendy"
    ]
    async with http.get(noc["ics_url"].replace("token=", "token=x")) as r:
        assert r.status == 404
    # Walls: others see the public view only; a client never sees a provider schedule, nor another tenant's.
    _, public = await api(http, "GET", f"{esc}/v1/schedules/noc", "eng-token")
    assert "ics_url" not in public and "layers" not in public and public["on_call"] is not None
    assert (await api(http, "GET", f"{esc}/v1/schedules/noc", "acme-viewer-token"))[0] == 404
    assert (await api(http, "GET", f"{esc}/v1/schedules/acme-dba", "globex-viewer-token"))[0] == 404
    assert (await api(http, "GET", f"{esc}/v1/schedules/acme-dba/oncall", "acme-viewer-token"))[0] == 200
    _, listing = await api(http, "GET", f"{esc}/v1/schedules", "globex-viewer-token")
    assert listing["items"] == []
    # An override on a tenant's schedule is an event on that tenant's ledger.
    body = {"user": "dana", "start": utcnow().isoformat(), "end": (utcnow() + timedelta(hours=2)).isoformat()}
    status, override = await api(http, "POST", f"{esc}/v1/schedules/acme-dba/overrides", "admin-token", body)
    assert status == 201

    async def on_ledger():
        _, ledger = await api(http, "GET", f"{svc['reporting'].url}/v1/ledger/acme?limit=20")
        return [e for e in ledger["items"] if e["type"] == "schedule.override_added"]

    [entry] = await eventually(on_ledger)
    assert entry["data"]["override_id"] == override["id"]


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
