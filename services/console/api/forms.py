"""Form fields -> the JSON bodies of the incident and change APIs. Values pass through as typed: the API
validates them and its 422 is shown in words, so the console keeps no second copy of the rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INCIDENT_ACTIONS = (
    "acknowledge", "start", "hold", "resume", "resolve", "close", "reopen", "assign", "escalate", "priority", "notes",
)  # fmt: skip
CHANGE_ACTIONS = (
    "submit", "assess", "approve", "reject", "schedule", "start", "complete", "fail", "review", "close", "cancel",
)  # fmt: skip


def _text(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _checked(form: Mapping[str, Any], name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


def utc_time(raw: str | None) -> str | None:
    """An <input type=datetime-local> value (no offset) read as UTC, the way the console shows times."""
    if not raw:
        return None
    if raw.endswith("Z") or "+" in raw[10:]:
        return raw
    return f"{raw}:00Z" if len(raw) == 16 else f"{raw}Z"


def incident_body(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    t = lambda name: _text(form, name)  # noqa: E731
    if action == "hold":
        return {"reason": t("reason"), **({"comment": c} if (c := t("comment")) else {})}
    if action == "resolve":
        body: dict[str, Any] = {"resolution_code": t("resolution_code") or "solved"}
        body["first_contact"] = _checked(form, "first_contact")
        return body | ({"note": n} if (n := t("note")) else {})
    if action in ("reopen", "escalate"):
        return {"reason": t("reason")}
    if action == "assign":
        return {"assignee": t("assignee")}
    if action == "priority":
        return {"priority": t("priority"), "reason": t("reason")}
    if action == "notes":
        return {"text": t("text"), "internal": _checked(form, "internal")}
    return {}


def change_body(action: str, form: Mapping[str, Any]) -> dict[str, Any]:
    names = {
        "submit": ("comment", "override_reason"),
        "assess": ("risk", "impact", "comment"),
        "schedule": ("implementer", "override_reason", "comment"),
        "start": ("comment", "override_reason"),
        "fail": ("rollback", "comment"),
    }.get(action, ("comment",))
    body = {n: v for n in names if (v := _text(form, n)) is not None}
    if action == "fail" and "rollback" not in body:
        body["rollback"] = None  # required: let the API say so
    if action == "schedule":
        for end in ("planned_start", "planned_end"):
            if value := utc_time(_text(form, end)):
                body[end] = value
    return body


def new_change_body(form: Mapping[str, Any]) -> dict[str, Any]:
    """POST /v1/changes from the create form: a standard change names its template (tenant:template)."""
    kind = _text(form, "change_type") or "normal"
    body: dict[str, Any] = {"tenant": _text(form, "tenant"), "change_type": kind}
    if kind == "standard":
        template = _text(form, "template") or ""
        tenant, _, name = template.partition(":")
        body |= {"tenant": tenant or body["tenant"], "template": name or None}
    else:
        cis = [c.strip() for c in (_text(form, "cis") or "").replace(";", ",").split(",") if c.strip()]
        body |= {"title": _text(form, "title"), "cis": cis}
    for name in ("description", "implementer", "rollback_plan"):
        if (value := _text(form, name)) is not None:
            body[name] = value
    for name in ("planned_start", "planned_end"):
        if value := utc_time(_text(form, name)):
            body[name] = value
    return body
