"""Alerts and requests by e-mail, through a real SMTP client into intake's listener and on to triage's incidents
(both services in-process on real NATS JetStream and PostgreSQL)."""

from __future__ import annotations

import pytest

from libs.localstack import LocalNats, free_port
from tests.conftest import eventually
from tests.intake.mail import ACME_ALERTS, ACME_REQUESTS, GLOBEX_ALERTS, deliver, message
from tests.intake.test_to_incidents import incidents, until
from tests.intake.wire import stored

ROOT_ID = "<backup-1@nas.acme.example>"


@pytest.fixture
def mail_settings(settings):
    return settings.model_copy(update={"smtp_port": free_port()})


async def test_alert_mail_opens_an_incident_a_reply_joins_it_and_resolved_resolves_it(mail_settings, start, http):
    await start("intake", mail_settings)
    triage = await start("triage", mail_settings)
    port, key = mail_settings.smtp_port, f"mail-thread:{ROOT_ID}"
    raw = message("CRITICAL: [erp-db] nightly backup failed", "Job erp-nightly failed at 02:00.", message_id=ROOT_ID,
                  attachments={"job.log": b"x" * 1500})  # fmt: skip
    code, reply = await deliver(port, raw, to=[ACME_ALERTS])
    assert code == 250
    # 250 came only once JetStream had stored the event: it is on the stream now, nothing waited for.
    [event] = await stored(mail_settings, "alert.received")
    assert reply.endswith(event["id"]) and event["tenant"] == "acme"
    data = event["data"]
    assert (data["source"], data["kind"], data["severity"], data["ci"], data["dedup_key"]) == (
        "email", "alert", "critical", "erp-db", key,
    )  # fmt: skip
    listed = "\n\nAttachments (not stored):\n- job.log (1,500 bytes)"
    assert data["description"] == "Job erp-nightly failed at 02:00." + listed
    assert "xxxx" not in str(event)  # the attachment's content is nowhere
    found = await until(http, triage, "acme", lambda f: key in f)
    assert (found[key]["priority"], found[key]["title"], found[key]["type"]) == (
        "P1", "CRITICAL: [erp-db] nightly backup failed", "incident",
    )  # fmt: skip

    reply_mail = message("Re: CRITICAL: [erp-db] nightly backup failed", "Still failing.",
                         message_id="<backup-2@nas.acme.example>", replying_to=ROOT_ID)  # fmt: skip
    assert (await deliver(port, reply_mail, to=[ACME_ALERTS]))[0] == 250
    await until(http, triage, "acme", lambda f: f[key]["occurrences"] == 2)

    resolved = message("RESOLVED: [erp-db] nightly backup failed", "Re-run succeeded.",
                       message_id="<backup-3@nas.acme.example>", replying_to=ROOT_ID)  # fmt: skip
    assert (await deliver(port, resolved, to=[ACME_ALERTS]))[0] == 250
    found = await until(http, triage, "acme", lambda f: f[key]["state"] == "resolved")
    assert len(found) == 1  # the reply and the resolve joined the first mail's incident


async def test_a_mail_to_the_request_address_opens_a_service_request(mail_settings, start, http):
    await start("intake", mail_settings)
    triage = await start("triage", mail_settings)
    raw = message("RESOLVED: new starter needs a laptop", "Anna joins on Monday.", message_id="<req-1@acme.example>",
                  sender="hr@acme.example")  # fmt: skip
    assert (await deliver(mail_settings.smtp_port, raw, to=[ACME_REQUESTS], sender="hr@acme.example"))[0] == 250
    key = "mail-thread:<req-1@acme.example>"
    found = await until(http, triage, "acme", lambda f: key in f)
    request = found[key]
    # A subject cannot close a request: the "resolved" rule reads alert addresses only.
    assert (request["type"], request["channel"], request["state"], request["source"]) == (
        "request", "email", "new", "email",
    )  # fmt: skip
    assert request["description"] == "Anna joins on Monday."


async def test_unknown_revoked_and_foreign_addresses_are_refused_at_rcpt(mail_settings, start):
    await start("intake", mail_settings)
    raw = message("disk full", message_id="<x-1@acme.example>")
    for address in ("nobody@mail.test-msp.example", "old@mail.test-msp.example", "acme+alerts@elsewhere.example"):
        code, reply = await deliver(mail_settings.smtp_port, raw, to=[address])
        assert (code, reply.split()[0]) == (550, "5.1.1"), address
    # An integration key's address is its tenant's, with the key's CI; a capitalised address is the same one.
    code, _ = await deliver(mail_settings.smtp_port, raw, to=["DB-Monitor@Mail.Test-MSP.example"])
    assert code == 250
    [event] = await stored(mail_settings, "alert.received")
    assert (event["tenant"], event["data"]["integration"], event["data"]["ci"]) == ("acme", "db-monitor", "erp-db")


async def test_an_oversized_mail_is_552_and_nothing_is_stored(settings, start):
    small = settings.model_copy(update={"smtp_port": free_port(), "smtp_max_bytes": 64 * 1024})
    await start("intake", small)
    raw = message("backup report", "line of the report\n" * 5000, message_id="<big-1@acme.example>")
    assert len(raw) > 64 * 1024
    code, _ = await deliver(small.smtp_port, raw, to=[ACME_ALERTS])
    assert code == 552
    assert await stored(small, "alert.received") == []


async def test_the_same_message_id_twice_is_one_alert(mail_settings, start, http):
    await start("intake", mail_settings)
    triage = await start("triage", mail_settings)
    raw = message("WARNING: tape library nearly full", message_id="<tape-1@acme.example>")
    first, second = [await deliver(mail_settings.smtp_port, raw, to=[ACME_ALERTS]) for _ in range(2)]
    assert first == second and first[0] == 250  # the same stored id, twice
    # A re-sent copy with another Received line and Date is still the same mail (its Message-ID).
    resent = raw.replace(b"Date: Tue, 01 Dec 2026 09:14:00", b"Received: from relay\r\nDate: Tue, 01 Dec 2026 09:20:00")
    assert await deliver(mail_settings.smtp_port, resent, to=[ACME_ALERTS]) == first
    assert len(await stored(mail_settings, "alert.received")) == 1
    found = await until(http, triage, "acme", lambda f: f)
    assert [i["occurrences"] for i in found.values()] == [1]


async def test_another_tenants_address_cannot_write_to_this_tenant(mail_settings, start, http):
    await start("intake", mail_settings)
    triage = await start("triage", mail_settings)
    port = mail_settings.smtp_port
    assert (await deliver(port, message("CRITICAL: ERP down", message_id=ROOT_ID), to=[ACME_ALERTS]))[0] == 250
    key = f"mail-thread:{ROOT_ID}"
    await until(http, triage, "acme", lambda f: key in f)
    # A "reply" into Acme's thread, sent to Globex's address: it is Globex's alert, and Acme's incident never moves.
    spoof = message("RESOLVED: ERP down", message_id="<spoof-1@globex.example>", replying_to=ROOT_ID,
                    sender="ops@globex.example")  # fmt: skip
    assert (await deliver(port, spoof, to=[GLOBEX_ALERTS], sender="ops@globex.example"))[0] == 250
    globex = await until(http, triage, "globex", lambda f: key in f)
    assert globex[key]["number"].startswith("GLOBEX-")
    acme = await incidents(http, triage, "acme")
    assert (acme[key]["state"], acme[key]["occurrences"]) == ("new", 1)
    # Globex allows only its own senders: anyone else is refused at RCPT.
    code, reply = await deliver(port, spoof, to=[GLOBEX_ALERTS], sender="ops@acme.example")
    assert (code, reply.split()[0]) == (550, "5.7.1")


@pytest.mark.slow
async def test_nats_down_answers_451_and_stores_nothing(tmp_path, mail_settings, start, http):
    nats, nats_port = LocalNats(), free_port()
    own = mail_settings.model_copy(update={"nats_url": await nats.start(tmp_path / "nats", port=nats_port)})
    await start("intake", own)
    raw = message("CRITICAL: core switch down", message_id="<sw-1@acme.example>")
    await nats.stop()
    code, reply = await deliver(own.smtp_port, raw, to=[ACME_ALERTS])
    nats = LocalNats()
    await nats.start(tmp_path / "nats", port=nats_port)  # same port, same JetStream store
    try:
        assert (code, reply.split()[0]) == (451, "4.3.0")  # try again later: the sending MTA keeps the mail
        assert await stored(own, "alert.received") == []

        async def retried():  # the MTA's retry, once intake has reconnected
            return (await deliver(own.smtp_port, raw, to=[ACME_ALERTS]))[0] == 250

        await eventually(retried, timeout=30, interval=0.3)
        assert len(await stored(own, "alert.received")) == 1
    finally:
        await nats.stop()


async def test_a_hostile_mail_is_still_an_alert_with_its_characters_replaced(mail_settings, start):
    """NUL and other control characters, undeclared 8-bit bytes, an unknown charset, a broken MIME boundary and
    a 5,000-character line: still stored (250), with what cannot be kept replaced and named in `sanitized`."""
    await start("intake", mail_settings)
    raw = (
        b"From: \x01nas\xff@acme.example\r\nSubject: disk \x00 errors on nas-01\r\nMessage-ID: <h-1@acme.example>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never-closed\r\n'
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\n" + b"sector \x07 bad " * 400 + b"\r\n"
    )
    code, _ = await deliver(mail_settings.smtp_port, raw, to=[ACME_ALERTS])
    assert code == 250
    [event] = await stored(mail_settings, "alert.received")
    data = event["data"]
    assert data["summary"] == "disk \ufffd errors on nas-01" and "sector \ufffd bad" in data["description"]
    assert set(data["sanitized"]) == {"summary", "description", "labels.from"}
