"""Intake's HTTP API: the generic webhook. Accepted means stored in JetStream (202); anything else changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web
from pydantic import ValidationError

from libs.bus import Bus
from libs.config import IntegrationKey, Tenant, TierlineConfig, sha256_hex
from libs.errors import ApiError, read_json, validation_error
from libs.events import raise_event, utcnow
from services.intake.domain import GenericAlert, normalise

log = structlog.get_logger()


@dataclass
class IntakeState:
    bus: Bus
    config: TierlineConfig
    overloaded: bool = False
    lag: int = 0


STATE: web.AppKey[IntakeState] = web.AppKey("intake", IntakeState)


def integration_for(request: web.Request, config: TierlineConfig) -> tuple[Tenant, IntegrationKey]:
    """The integration key from the path, `X-Tierline-Key`, or `Authorization: Bearer`; else 401."""
    key = request.match_info.get("key") or request.headers.get("X-Tierline-Key")
    if not key:
        scheme, _, cred = request.headers.get("Authorization", "").partition(" ")
        key = cred.strip() if scheme.lower() == "bearer" else None
    if not key:
        raise ApiError(
            401,
            "missing_integration_key",
            "send the integration key as X-Tierline-Key, as 'Authorization: Bearer <key>', or in the path",
        )
    found = config.integration_keys.get(sha256_hex(key))
    if found is None:
        raise ApiError(401, "unknown_integration_key", "the integration key is unknown or revoked")
    return found


async def generic_webhook(request: web.Request) -> web.Response:
    state = request.app[STATE]
    tenant, key = integration_for(request, state.config)
    if state.overloaded:
        # Refuse rather than accept what cannot be processed in time; the sender retries.
        raise ApiError(
            503,
            "overloaded",
            f"triage is {state.lag} alerts behind; retry shortly",
            headers={"Retry-After": "5"},
        )
    try:
        body = GenericAlert.model_validate(await read_json(request))
    except ValidationError as exc:
        raise validation_error(exc) from None
    alert = normalise(body, integration=key.name, bound_ci=key.ci, received_at=utcnow())
    env = raise_event(
        "alert.received",
        alert,
        source="intake",
        tenant=tenant.id,
        subject=alert.alert_id,
        correlation_id=request.headers.get("X-Request-Id"),
    )
    try:
        await state.bus.publish(env)
    except Exception as exc:
        log.error("intake.publish_failed", tenant=tenant.id, error=repr(exc))
        raise ApiError(
            503, "bus_unavailable", "the alert was not stored; retry", headers={"Retry-After": "2"}
        ) from None
    log.debug("intake.accepted", tenant=tenant.id, event_id=env.id, dedup_key=alert.dedup_key)
    return web.json_response(
        {"status": "accepted", "alert_id": alert.alert_id, "event_id": env.id, "dedup_key": alert.dedup_key},
        status=202,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/webhooks/generic", generic_webhook)
    app.router.add_post("/v1/webhooks/generic/{key}", generic_webhook)
