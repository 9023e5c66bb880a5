"""A mail as intake reads it (pure): its headers decoded (RFC 2047), its text (quoted-printable, base64, any
charset; HTML only when there is no plain text), and its attachments' names and sizes, never their content.

The standard library's `email` package with `policy.default` does the decoding. Mail is written by anyone: no
header or part, however broken, makes reading fail; what cannot be decoded is kept with U+FFFD in its place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser

MAX_DEPTH = 10  # MIME nesting followed when listing attachments
TEXT_READ = 64 * 1024  # of an unreadable message, the bytes kept as its text (the alert keeps 8 KiB of it)
MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int  # bytes, decoded


@dataclass
class Mail:
    subject: str
    sender: str  # the From header, decoded
    message_id: str | None  # <id@host>, as the sender wrote it
    thread_root: str | None  # the first mail of the thread this one answers (References, else In-Reply-To)
    date: datetime | None
    text: str
    attachments: list[Attachment] = field(default_factory=list)


def read_mail(raw: bytes) -> Mail:
    try:
        return _read(raw)
    except Exception:  # every part is guarded below; should the parser itself fail, the mail still counts
        text = raw[:TEXT_READ].decode("utf-8", errors="replace")
        return Mail(subject="(unreadable message)", sender="", message_id=None, thread_root=None, date=None, text=text)


def _read(raw: bytes) -> Mail:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)  # policy.default makes EmailMessage
    references = MESSAGE_ID.findall(_header(msg, "References")) or MESSAGE_ID.findall(_header(msg, "In-Reply-To"))
    ids = MESSAGE_ID.findall(_header(msg, "Message-ID"))
    body = _body(msg)
    return Mail(
        subject=" ".join(_header(msg, "Subject").split()),  # folded lines and tabs: one line
        sender=_header(msg, "From").strip(),
        message_id=ids[0] if ids else None,
        thread_root=references[0] if references else None,
        date=_date(msg),
        text=_text(body) if body is not None else "",
        attachments=_attachments(msg, body),
    )


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # policy.default's header parsers can fail on hostile headers: keep the raw text instead
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return "" if value is None else str(value)


def _date(msg: Message) -> datetime | None:
    try:
        at = getattr(msg.get("Date"), "datetime", None)
    except Exception:  # an unparseable Date is no date
        return None
    if not isinstance(at, datetime):
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _body(msg: EmailMessage) -> EmailMessage | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))  # type: ignore[return-value]
    except Exception:  # a broken MIME tree: no text, its parts still listed as attachments
        return None


def _text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except Exception:  # an unknown charset (LookupError) or broken transfer encoding: decode what is there
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else ""
    return html_text(text) if part.get_content_subtype() == "html" else text


def _attachments(part: Message, body: Message | None, depth: int = 0) -> list[Attachment]:
    """Every part that is neither the text nor a container of it, as (name, size); an attached mail as one."""
    if part is body:
        return []
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        if depth >= MAX_DEPTH:  # hostile nesting: counted, not followed
            return [Attachment("(nested parts)", _size(part))]
        return [a for p in part.get_payload() for a in _attachments(p, body, depth + 1)]  # type: ignore[union-attr]
    if body is not None and _is_text(part) and not part.get_filename():
        return []  # the HTML twin of the plain text (multipart/alternative): the same text, not an attachment
    return [Attachment(name=_name(part), size=_size(part))]


def _is_text(part: Message) -> bool:
    return part.get_content_maintype() == "text" and part.get_content_disposition() != "attachment"


def _name(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:  # a broken RFC 2231 parameter
        name = None
    return " ".join(str(name).split()) if name else f"(unnamed {part.get_content_type()})"


def _size(part: Message) -> int:
    try:
        payload = part.get_payload(decode=True)
        return len(payload) if isinstance(payload, bytes) else len(part.as_bytes())
    except Exception:
        return len(str(part.get_payload()))


class _Text(HTMLParser):
    """An HTML body's text: tags dropped, block ends as line breaks, scripts and styles left out."""

    BLOCKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "pre", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
