"""Reading a mail and mapping it to an alert, pure: decoding (RFC 2047 headers, quoted-printable, base64,
charsets, HTML), attachments as names and sizes, identity and threading, and the tenant's rules."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.config import MailRoute, MailRules, SeverityRule, route_for
from libs.text import has_forbidden
from services.intake.domain.alert import MAX_DESCRIPTION
from services.intake.domain.mail import read_mail
from services.intake.domain.mail_alert import alert_id, mail_signal, sender_allowed
from tests.intake.mail import message

ALERTS = MailRoute("acme", "alert", "acme+alerts")
REQUESTS = MailRoute("acme", "request", "acme+requests")
RULES = MailRules(
    severity=[SeverityRule(pattern=r"\bCRITICAL\b", severity="critical"),
              SeverityRule(pattern="warn", severity="warning")],
    default_severity="info",
    resolved=r"^(RESOLVED|OK):",
    ci=r"host=(?P<ci>[a-z0-9-]+)",
)  # fmt: skip


def signal_of(raw: bytes, route: MailRoute = ALERTS, rules: MailRules = RULES):
    mail = read_mail(raw)
    return mail_signal(route, rules, mail, recipient="acme+alerts@mail.example", alert_id=alert_id(route, mail, raw))


def test_encoded_headers_and_bodies_are_decoded():
    raw = (
        b"From: =?iso-8859-1?q?J=F6rg_M=FCller?= <jm@acme.example>\r\n"
        b"Subject: =?utf-8?b?U2ljaGVydW5nIGZlaGxnZXNjaGxhZ2VuOiDDlmwtUHVtcGU=?=\r\n"
        b"Message-ID: <q1@acme.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Die Sicherung der =D6l-Pumpe ist fehlgeschlagen.=\r\n Bitte pr=FCfen.\r\n"
    )
    mail = read_mail(raw)
    assert mail.subject == "Sicherung fehlgeschlagen: Öl-Pumpe"
    assert mail.sender == "Jörg Müller <jm@acme.example>"
    assert mail.text.strip() == "Die Sicherung der Öl-Pumpe ist fehlgeschlagen. Bitte prüfen."
    b64 = (
        b"Subject: plain\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"w4ljaGVjIGR1IGpvYiBkZSBzYXV2ZWdhcmRl\r\n"
    )
    assert read_mail(b64).text == "Échec du job de sauvegarde"


def test_html_only_mail_gives_its_text_and_the_html_twin_is_no_attachment():
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = "report"
    msg.set_content("<html><style>p{}</style><body><p>Job <b>failed</b></p><p>at 02:00</p></body></html>", "html")
    assert read_mail(msg.as_bytes()).text == "Job failed\n\nat 02:00"
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = "report"
    msg.set_content("Job failed at 02:00")
    msg.add_alternative("<p>Job <b>failed</b> at 02:00</p>", subtype="html")
    mail = read_mail(msg.as_bytes())
    assert (mail.text.strip(), mail.attachments) == ("Job failed at 02:00", [])


def test_attachments_are_listed_by_name_and_size_never_kept():
    inner = EmailMessage(policy=SMTP_POLICY)
    inner["Subject"] = "forwarded"
    inner.set_content("the original")
    raw = message("backup failed", "See the log.", message_id="<a@x>", attachments={"job.log": b"E" * 2048})
    msg = read_mail(raw)
    assert [(a.name, a.size) for a in msg.attachments] == [("job.log", 2048)]
    outer = EmailMessage(policy=SMTP_POLICY)
    outer["Subject"] = "fwd"
    outer.set_content("see attached")
    outer.add_attachment(inner)
    outer.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=")
    names = [a.name for a in read_mail(outer.as_bytes()).attachments]
    assert names == ["(unnamed message/rfc822)", "Résumé.pdf"]
    signal, _ = signal_of(raw)
    assert signal.description == "See the log.\n\nAttachments (not stored):\n- job.log (2,048 bytes)"


def test_broken_charsets_and_headers_never_fail_a_mail():
    raw = (
        b"Subject: =?x-unknown?q?caf=E9?= \xff\xfe raw bytes\r\nMessage-ID: <b@x>\r\n"
        b"Date: the day after tomorrow\r\nFrom: <<<>>>@@\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xe9 \x00 au lait\r\n"
    )
    mail = read_mail(raw)
    assert mail.date is None and "caf" in mail.text
    signal, sanitized = signal_of(raw)
    assert not has_forbidden(signal.summary + (signal.description or "")) and "description" in sanitized


def test_text_is_kept_to_the_first_8_kib():
    signal, _ = signal_of(message("long", "0123456789" * 2000, message_id="<l@x>"))
    assert signal.description is not None and len(signal.description) == MAX_DESCRIPTION
    assert signal.description.startswith("0123456789")


def test_thread_root_is_the_dedup_key_so_replies_join_the_first_mail():
    first, _ = signal_of(message("disk full", message_id="<root@x>"))
    reply = message("Re: disk full", message_id="<r2@x>", replying_to="<root@x>")
    deeper = reply.replace(b"References: <root@x>", b"References: <root@x> <r2@x>")
    deeper = deeper.replace(b"Message-ID: <r2@x>", b"Message-ID: <r3@x>")
    only_in_reply_to = message("Re: disk full", message_id="<r4@x>").replace(
        b"Message-ID: <r4@x>", b"Message-ID: <r4@x>\r\nIn-Reply-To: <root@x>"
    )
    keys = {signal_of(m)[0].dedup_key for m in (reply, deeper, only_in_reply_to)}
    assert keys == {first.dedup_key} == {"mail-thread:<root@x>"}
    assert signal_of(message("no id", message_id=None))[0].dedup_key.startswith("mail-id:")


def test_the_key_pattern_groups_mails_of_tools_that_do_not_thread():
    rules = MailRules(key=r"^(?:PROBLEM|RECOVERY): (?P<key>.+)$", resolved="^RECOVERY:")
    problem, _ = signal_of(message("PROBLEM: Disk full on db1", message_id="<p@x>"), rules=rules)
    recovery, _ = signal_of(message("RECOVERY: disk full  on db1", message_id="<q@x>"), rules=rules)
    assert problem.dedup_key == recovery.dedup_key == "mail-key:disk full on db1"
    assert (problem.status, recovery.status) == ("firing", "resolved")


def test_severity_resolved_and_ci_rules():
    def read(subject: str, body: str = "", route: MailRoute = ALERTS):
        s, _ = signal_of(message(subject, body or subject, message_id="<s@x>"), route)
        return s.severity, s.status, s.ci, s.kind

    assert read("CRITICAL: backup failed host=nas-1") == ("critical", "firing", "nas-1", "alert")
    assert read("Warning: tape low", "library host=tape-2") == ("warning", "firing", "tape-2", "alert")
    assert read("critical and warn") == ("critical", "firing", None, "alert")  # the first rule that matches
    assert read("OK: backup succeeded") == ("info", "resolved", None, "alert")
    assert read("RESOLVED: printer", route=REQUESTS) == ("info", "firing", None, "request")


def test_identity_is_the_message_id_per_tenant_and_address():
    raw = message("disk full", message_id="<same@x>")
    resent = raw.replace(b"Subject:", b"Received: from relay.example\r\nSubject:")
    assert alert_id(ALERTS, read_mail(raw), raw) == alert_id(ALERTS, read_mail(resent), resent)
    assert alert_id(ALERTS, read_mail(raw), raw) != alert_id(REQUESTS, read_mail(raw), raw)
    assert alert_id(ALERTS, read_mail(raw), raw) != alert_id(MailRoute("globex", "alert", "g"), read_mail(raw), raw)
    bare = message("disk full", message_id=None)
    assert alert_id(ALERTS, read_mail(bare), bare) != alert_id(ALERTS, read_mail(bare), bare + b"more")


def test_addresses_and_senders():
    routes = {"acme+alerts": ALERTS}
    assert route_for(routes, "mail.example", "ACME+Alerts@Mail.Example.") == ALERTS
    assert route_for(routes, "mail.example", "acme+alerts@other.example") is None
    assert route_for(routes, "mail.example", "acme+alerts") is None
    assert sender_allowed([], "")
    assert sender_allowed(["*@acme.example", "nagios@*.acme.example"], "Nagios@mon.ACME.example")
    assert not sender_allowed(["*@acme.example"], "ops@acme.example.evil.example")
    assert not sender_allowed(["*@acme.example"], "")  # a bounce (empty sender) is no one they allow


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_read_as_a_mail_without_failing_and_keep_no_forbidden_character(raw):
    signal, _ = signal_of(b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + raw)
    texts = [signal.summary, signal.description or "", signal.dedup_key, *signal.labels.values()]
    assert not any(has_forbidden(t) for t in texts)
