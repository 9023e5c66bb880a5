"""The one error shape every client sees: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError


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


async def read_json(request: web.Request) -> Any:
    """The body as JSON, or 400 malformed_json."""
    try:
        return await request.json()
    except Exception:
        raise ApiError(400, "malformed_json", "the request body is not valid JSON") from None
