"""The one rule for characters Tierline cannot keep, pure.

PostgreSQL text and jsonb cannot hold NUL, UTF-8 cannot encode a lone surrogate (`\\ud800`), and other C0
control characters (other than tab, newline and carriage return) mean nothing in a title or a label but can
garble a terminal or a log line. Alerts from tools are never refused for their text: `scrub` replaces such
characters with U+FFFD and says where. What people send to an API is refused instead: `find_forbidden`
names every field that holds one (422).
"""

from __future__ import annotations

import re
from typing import Any

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# In a URL's path not even tab, newline and carriage return: no id, number or name holds one, and one echoed into a
# header or an HTTP reason phrase (a 404's) made aiohttp raise, a 500.
FORBIDDEN_IN_PATH = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def has_forbidden(text: str) -> bool:
    return FORBIDDEN.search(text) is not None


def path_has_forbidden(path: str) -> bool:
    return FORBIDDEN_IN_PATH.search(path) is not None


def scrub(text: str) -> str:
    """`text` with every forbidden character replaced by U+FFFD (the same input always gives the same output,
    so a sender's retry still gets the same alert id)."""
    return FORBIDDEN.sub(REPLACEMENT, text)


def scrub_tree(value: Any, path: str, changed: list[str]) -> Any:
    """A JSON-like value with every string (dict keys too) scrubbed; appends the path of each change to
    `changed` ("labels.host", "custom_details.disk.0")."""
    if isinstance(value, str):
        if has_forbidden(value):
            changed.append(path)
            return scrub(value)
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = str(k)
            if has_forbidden(key):
                key = scrub(key)
                changed.append(_join(path, key))
            out[key] = scrub_tree(v, _join(path, key), changed)
        return out
    if isinstance(value, list | tuple):
        return [scrub_tree(v, _join(path, str(i)), changed) for i, v in enumerate(value)]
    return value


def find_forbidden(value: Any, path: str = "") -> list[dict[str, str]]:
    """One 422 detail per field (or key) of a parsed JSON body that holds a forbidden character."""
    found: list[dict[str, str]] = []
    _walk(value, path, found)
    return found


def _walk(value: Any, path: str, found: list[dict[str, str]]) -> None:
    if isinstance(value, str):
        if m := FORBIDDEN.search(value):
            found.append(_problem(path or "(body)", m.group()))
    elif isinstance(value, dict):
        for k, v in value.items():
            where = _join(path, scrub(k))
            if m := FORBIDDEN.search(k):
                found.append(_problem(where, m.group(), key=True))
            _walk(v, where, found)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, _join(path, str(i)), found)


def _problem(field: str, char: str, *, key: bool = False) -> dict[str, str]:
    what = "its key holds" if key else "holds"
    return {
        "field": field,
        "message": f"{what} U+{ord(char):04X} (a control character or lone surrogate), which cannot be stored",
        "type": "invalid_characters",
    }


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part
