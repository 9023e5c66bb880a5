"""Sending real mail in tests: messages built with the standard library, delivered by a real SMTP client
(aiosmtplib) step by step, so a test sees which reply (RCPT or DATA) refused it."""

from __future__ import annotations

import contextlib
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import aiosmtplib

ACME_ALERTS = "acme+alerts@mail.test-msp.example"
ACME_REQUESTS = "acme+requests@mail.test-msp.example"
GLOBEX_ALERTS = "globex+alerts@mail.test-msp.example"


def message(subject: str, body: str = "", *, message_id: str | None, replying_to: str | None = None,
            sender: str = "backup@acme.example", attachments: dict[str, bytes] | None = None) -> bytes:  # fmt: skip
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"], msg["To"], msg["Subject"] = sender, "alerts", subject
    msg["Date"] = "Tue, 01 Dec 2026 09:14:00 +0000"
    if message_id:
        msg["Message-ID"] = message_id
    if replying_to:
        msg["In-Reply-To"] = msg["References"] = replying_to
    msg.set_content(body or subject)
    for name, content in (attachments or {}).items():
        msg.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


async def deliver(port: int, raw: bytes, *, to: list[str], sender: str = "backup@acme.example") -> tuple[int, str]:
    """One SMTP transaction: (code, text) of the reply that ended it -- 250 once stored, else the refusal."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
    await client.connect()
    try:
        await client.ehlo()
        await client.mail(sender)
        for rcpt in to:
            await client.rcpt(rcpt)
        reply = await client.data(raw)
        return reply.code, reply.message
    except aiosmtplib.SMTPResponseException as exc:
        return exc.code, exc.message
    finally:
        with contextlib.suppress(Exception):
            await client.quit()
