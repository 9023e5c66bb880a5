"""A mail to one of a tenant's addresses as one alert (pure): its identity, its dedup key, and the tenant's rules.

- identity: the Message-ID (per tenant and address), so a re-sent mail is one event; a mail without one is
  identified by its bytes;
- dedup key: the tenant's `key` pattern on the subject when it matches, else the first mail of the thread it
  answers (References, else In-Reply-To), else its own Message-ID: a reply joins the thread's incident;
- subject -> summary, text -> description (the first 8 KiB, then the attachments' names and sizes);
  severity, "resolved" and CI from the tenant's patterns (docs/email.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from fnmatch import fnmatchcase
from functools import lru_cache

from libs.config import MailRoute, MailRules
from libs.text import has_forbidden, scrub
from services.intake.domain.alert import MAX_DESCRIPTION, MAX_SUMMARY, Signal, Status, clean_labels, clip
from services.intake.domain.mail import Attachment, Mail

SOURCE = "email"
MAX_KEY = 200  # a dedup key holds at most 255 characters; longer ids are hashed
ATTACHMENTS_LISTED, MAX_NAME = 20, 200  # so the list never crowds the text out of the description


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _group(pattern: str, text: str, name: str) -> str | None:
    """The named group of the first match (else the first group, else the whole match), or None."""
    m = _compiled(pattern).search(text)
    if m is None:
        return None
    value = m.groupdict().get(name) or (m.group(1) if m.re.groups else m.group(0))
    return (" ".join(value.split()) or None) if value else None


def sender_allowed(patterns: list[str], sender: str) -> bool:
    """The envelope sender matches one of the tenant's glob patterns (case-insensitive); none given: anyone."""
    return not patterns or any(fnmatchcase(sender.lower(), p.lower()) for p in patterns)


def alert_id(route: MailRoute, mail: Mail, raw: bytes) -> str:
    identity = mail.message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    basis = ["mail", route.tenant, route.local_part, identity]
    return hashlib.sha256(json.dumps(basis, separators=(",", ":")).encode()).hexdigest()[:32]


def _key(kind: str, value: str) -> str:
    return f"mail-{kind}:" + (value if len(value) <= MAX_KEY else hashlib.sha256(value.encode()).hexdigest())


def dedup_key(rules: MailRules, mail: Mail, subject: str, fallback: str) -> str:
    if rules.key and (key := _group(rules.key, subject, "key")):
        return _key("key", key.lower())
    thread = mail.thread_root or mail.message_id
    return _key("thread", thread) if thread else _key("id", fallback)


def _description(text: str, attachments: list[Attachment]) -> str | None:
    listed = [f"- {clip(a.name, MAX_NAME)} ({a.size:,} bytes)" for a in attachments[:ATTACHMENTS_LISTED]]
    if len(attachments) > ATTACHMENTS_LISTED:
        listed.append(f"- and {len(attachments) - ATTACHMENTS_LISTED} more")
    tail = "\n\nAttachments (not stored):\n" + "\n".join(listed) if listed else ""
    body = clip(text.strip(), MAX_DESCRIPTION - len(tail)) or ""
    return (body + tail).strip() or None


def _clean(value: str, field: str, changed: list[str]) -> str:
    if has_forbidden(value):
        changed.append(field)
        return scrub(value)
    return value


def mail_signal(
    route: MailRoute, rules: MailRules, mail: Mail, *, recipient: str, alert_id: str
) -> tuple[Signal, list[str]]:
    """The mail as a Signal, and the fields whose control characters were replaced (libs/text.py's rule)."""
    changed: list[str] = []
    subject = _clean(clip(mail.subject, MAX_SUMMARY) or "", "summary", changed)
    text = _clean(mail.text[: MAX_DESCRIPTION * 2], "description", changed)
    names = [Attachment(_clean(a.name, "description", changed), a.size) for a in mail.attachments]
    status: Status = "firing"
    if route.kind == "alert" and rules.resolved and _compiled(rules.resolved).search(subject):
        status = "resolved"  # a client cannot close its own request by its subject: alert addresses only
    severity = next((r.severity for r in rules.severity if _compiled(r.pattern).search(subject)), None)
    ci = None
    if rules.ci:
        ci = _group(rules.ci, subject, "ci") or _group(rules.ci, text[:MAX_DESCRIPTION], "ci")
    labels = {"from": _clean(mail.sender, "labels.from", changed), "to": recipient.lower(),
              "message_id": _clean(mail.message_id or "", "labels.message_id", changed)}  # fmt: skip
    signal = Signal(
        source=SOURCE,
        dedup_key=_clean(dedup_key(rules, mail, subject, alert_id), "dedup_key", changed),
        status=status,
        severity=severity or rules.default_severity,
        summary=subject or "(no subject)",
        description=_description(text, names),
        ci=clip(ci, 255),
        labels=clean_labels({k: v for k, v in labels.items() if v}),
        started_at=mail.date,
        kind=route.kind,
    )
    return signal, list(dict.fromkeys(changed))
