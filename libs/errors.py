"""The one error shape every client sees: {"error": {"code", "message", "details"}}; and JSON bodies read
the same way everywhere (nesting bounded before parsing, forbidden characters refused)."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from libs.text import find_forbidden

MAX_JSON_DEPTH = 32  # real payloads nest a handful of levels; 5,000 levels of {"a": made the parser recurse to death


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers

    def response(self) -> web.Response:
        body = {"error": {"code": self.code, "message": self.message, "details": self.details}}
        return web.json_response(body, status=self.status, headers=self.headers)


def validation_error(exc: ValidationError, *, status: int = 422) -> ApiError:
    """Field errors a client can act on: where, what, and the offending input's type."""
    details = [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False)
    ]
    return ApiError(status, "validation_failed", "the request body failed validation", details)


# A JSON string (escapes included) and the brackets outside strings: enough to measure nesting without parsing.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects in a JSON text nest more than `limit` levels, found by a scan, not a parse
    (the parser recurses once per level). Malformed text gives some answer; the parser refuses it afterwards."""
    if raw.count(b"[") + raw.count(b"{") <= limit:  # the common case: too few brackets to nest that deep
        return False
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        depth += 1 if m.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


def parse_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`raw` as JSON, or 400 too_deeply_nested (checked before parsing) / 400 malformed_json."""
    if nests_deeper_than(raw, max_depth):
        raise ApiError(400, "too_deeply_nested", f"the JSON body nests deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # invalid UTF-8 is a ValueError too
        raise ApiError(400, "malformed_json", "the request body is not valid JSON") from None


async def read_json(request: web.Request) -> Any:
    """A person's JSON body (size bounded by the app's client_max_size: 413): 400 if it is not JSON or nests
    too deeply, 422 naming each field that holds a character that cannot be stored (libs/text.py)."""
    data = parse_json(await request.read())
    if problems := find_forbidden(data):
        raise ApiError(422, "validation_failed", "the request body holds characters that cannot be stored", problems)
    return data


M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    """A command's body as `model`: no body reads as {} (so a 422 lists what is required), anything but a JSON
    object is a 422, and every field error is listed (validation_error)."""
    raw = await read_json(request) if request.body_exists else {}
    if not isinstance(raw, dict):
        raise ApiError(422, "validation_failed", "the request body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None
