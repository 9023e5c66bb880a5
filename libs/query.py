"""Query strings, checked the same way everywhere: unknown parameters and bad values are 400s with one
detail per field, and a client token asking for another tenant learns nothing (404, as if none existed)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from libs.auth import Principal
from libs.config import TierlineConfig
from libs.errors import ApiError

Problems = list[dict[str, str]]


def check_query(request: web.Request, allowed: set[str], problems: Problems | None = None) -> None:
    """Raise 400 invalid_query for unknown parameters (a typo must not silently widen a list) and for
    the value `problems` the caller found."""
    found = [
        {"field": name, "message": f"unknown query parameter; known: {', '.join(sorted(allowed))}"}
        for name in sorted(set(request.query) - allowed)
    ] + (problems or [])
    if found:
        raise ApiError(400, "invalid_query", "invalid query parameters", found)


def instant_param(raw: str | None, fallback: datetime, name: str, problems: Problems) -> datetime:
    """An ISO 8601 date or date-time query value (no offset: UTC), else `fallback`; a bad one is a problem."""
    if not raw:
        return fallback
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # an unencoded '+' arrives as a space
    except ValueError:
        problems.append({"field": name, "message": "an ISO 8601 date or datetime, e.g. 2026-12-01"})
        return fallback
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def whole(raw: str, *, most: int = 2**63 - 1) -> int | None:
    """`raw` as a whole number from 0 to `most`, else None: ASCII digits only ("²" is a digit to str.isdigit and
    no number to int(); "9" * 40 is no row's id), so a caller turns a bad one into a 4xx, never a 500."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > most:
        return None
    return int(raw)


def limit_problems(raw: str, *, most: int = 500) -> Problems:
    if (n := whole(raw, most=most)) is not None and n >= 1:
        return []
    return [{"field": "limit", "message": f"an integer from 1 to {most}"}]


def tenant_scope(who: Principal, config: TierlineConfig, tenant: str | None) -> list[str] | None:
    """The tenants a list may show: the one asked for, the client's own, or (provider, none asked) all."""
    if tenant is None:
        if who.tenant is not None:
            return [who.tenant]
        return None if who.scope is None else sorted(who.scope)
    if not who.can_see(tenant):
        raise ApiError(404, "not_found", f"no tenant {tenant}")  # the same answer whether it exists or not
    if config.tenant(tenant) is None:  # only a provider token gets here
        raise ApiError(
            400, "invalid_query", "invalid query parameters", [{"field": "tenant", "message": "unknown tenant"}]
        )
    return [tenant]
