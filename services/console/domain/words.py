"""An API's refusal in words a person reads: what was refused and what they can do instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLES = {
    400: "That request was not understood",
    401: "Please sign in again",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible now",
    422: "Please check the form",
    429: "Too many requests",
    503: "A service is not answering",
}
ACTION_WORDS = {
    "acknowledge": "acknowledge",
    "start": "start work",
    "hold": "put on hold",
    "resume": "resume",
    "resolve": "resolve",
    "close": "close",
    "reopen": "reopen",
    "assign": "assign",
    "escalate": "escalate",
    "priority": "change priority",
    "notes": "add a note",
}


def _detail(d: Any) -> str | None:
    if not isinstance(d, Mapping):
        return str(d) if d not in (None, "") else None
    if "allowed" in d:
        allowed = [ACTION_WORDS.get(a, str(a).replace("_", " ")) for a in d["allowed"] or []]
        return "Possible now: " + (", ".join(allowed) if allowed else "nothing (it is final)") + "."
    if "field" in d and "message" in d:
        return f"{str(d['field']).replace('_', ' ')}: {d['message']}"
    if "allowed_roles" in d:
        return "Roles that may: " + ", ".join(str(r).replace("_", " ") for r in d["allowed_roles"]) + "."
    parts = [f"{k.replace('_', ' ')}: {v}" for k, v in d.items() if isinstance(v, str | int | float)]
    return "; ".join(parts) or None


def in_words(status: int, error: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """(title, sentence, detail lines) for an API error body's `error` object."""
    title = TITLES.get(status, f"The request failed ({status})")
    message = str(error.get("message") or error.get("code") or "no reason given")
    sentence = message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")
    lines = [line for d in error.get("details") or [] if (line := _detail(d))]
    return title, sentence, lines
