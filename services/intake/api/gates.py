"""The gates every intake request passes, in this order: key (401), rate limit (429), content type (415), size
(413), signature (401), JSON (400), schema (422; PagerDuty's 400 on its endpoints); and the state they read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from libs.bus import Bus
from libs.config import IntegrationKey, Tenant, TierlineConfig, sha256_hex
from libs.config.live import LiveConfig
from libs.errors import ApiError, parse_json, validation_error
from libs.text import scrub_tree
from libs.web import snapshot
from services.intake.api.security import RateLimiter, key_from_headers, retry_after, verify_signature
from services.intake.domain.alert import Signal
from services.intake.domain.backlog import TriageBacklog

log = structlog.get_logger()
MAX_BODY = 512 * 1024
REJECTED = Counter("tierline_intake_rejections_total", "Requests refused", ["format", "status"])
M = TypeVar("M", bound=BaseModel)


@dataclass
class IntakeState:
    bus: Bus
    live: LiveConfig  # the SMTP listener reads it at each step; an HTTP request, its own snapshot (libs.web)
    backlog: TriageBacklog = field(default_factory=TriageBacklog)  # measured by workers.backlog_watch
    limiter: RateLimiter = field(default_factory=RateLimiter)


STATE: web.AppKey[IntakeState] = web.AppKey("intake", IntakeState)


@dataclass
class Sender:
    tenant: Tenant | None  # None: a provider-wide key, each alert names its tenant
    key: IntegrationKey


def identify(config: TierlineConfig, presented: str | None) -> Sender:
    if not presented:
        raise ApiError(
            401,
            "missing_integration_key",
            "send the integration key as 'Authorization: Bearer <key>', Basic auth, X-Tierline-Key, or in the path",
        )
    found = config.integration_keys.get(sha256_hex(presented))  # a dict of digests: no early-exit compare
    if found is None:
        raise ApiError(401, "unknown_integration_key", "the integration key is unknown or revoked")
    return Sender(*found)


def admit(state: IntakeState, sender: Sender) -> None:
    wait = state.limiter.take(sender.key.key_sha256, sender.key.rate_limit)
    if wait:
        headers = {"Retry-After": retry_after(wait)}
        raise ApiError(429, "rate_limited", "too many requests for this integration key; retry later", headers=headers)


async def read_body(request: web.Request, *, optional: bool = False) -> bytes:
    """The raw body; `optional`: none at all is fine (a cron job's bare `curl -X POST` heartbeat)."""
    if optional and not request.content_length and not request.body_exists:
        return b""
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with 'Content-Type: application/json'")
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, "payload_too_large", f"the body is over {MAX_BODY // 1024} KiB")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "payload_too_large", f"the body is over {MAX_BODY // 1024} KiB") from None


def clean_body(raw: bytes) -> tuple[Any, list[str]]:
    """The body as JSON (nesting bounded before parsing: libs.errors.parse_json) with NUL, other control
    characters and lone surrogates replaced by U+FFFD in every string and key, and the paths it changed.

    Alerts from tools are never refused for their text (PostgreSQL cannot store a NUL, UTF-8 cannot encode a
    lone surrogate); the alert records what was replaced. Done before anything reads the body, so hashing,
    the alert id and every store downstream only ever see text they can keep.
    """
    changed: list[str] = []
    data = scrub_tree(parse_json(raw), "", changed)
    return data, list(dict.fromkeys(changed))  # a key and its value changed: one field


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def tenant_of(config: TierlineConfig, sender: Sender, signal: Signal) -> Tenant:
    """A tenant key writes only to its tenant (any tenant label is ignored); a provider key needs the label,
    and a refusal names the field where this format's body carries it (`labels.tenant`, `alerts.3.labels.tenant`)."""
    if sender.tenant is not None:
        return sender.tenant
    label = sender.key.tenant_label
    tenant = config.tenant(signal.tenant_hint or "")
    if tenant is None:
        problem = "is missing" if not signal.tenant_hint else f"names no tenant ({signal.tenant_hint!r})"
        where = {"field": signal.tenant_field or f"labels.{label}", "message": f"the {label} label {problem}"}
        raise ApiError(422, "validation_failed", "a provider-wide key needs each alert to name its tenant", [where])
    return tenant


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key and len(key) > 255:
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key is longer than 255 characters")
    return key


async def gated(request: web.Request, fmt: str, *, optional_body: bool = False) -> tuple[Sender, bytes]:
    state = request.app[STATE]
    sender = identify(snapshot(request).config, key_from_headers(request.headers, request.match_info.get("key")))
    admit(state, sender)
    raw = await read_body(request, optional=optional_body)
    if sender.key.signature:
        verify_signature(sender.key.signature, request.headers, raw)
    return sender, raw


def counted(fmt: str, handler: Callable[[web.Request], Awaitable[web.Response]]):
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ApiError as err:
            REJECTED.labels(fmt, str(err.status)).inc()
            log.info("intake.refused", format=fmt, status=err.status, code=err.code, path=request.path)
            raise

    return wrapper
