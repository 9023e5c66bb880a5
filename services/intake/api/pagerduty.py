"""PagerDuty Events API v2: POST /v2/enqueue and /v2/change/enqueue (and their /v1/webhooks/pagerduty aliases),
answered exactly as PagerDuty answers, so an existing PagerDuty client works by changing only its base URL.

The routing_key in the body is the integration key, so the key gate runs after the body is read; every refusal
goes out in PagerDuty's shape (pd_error).
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from libs.errors import ApiError
from libs.events import utcnow
from libs.web import snapshot
from services.intake import events
from services.intake.api.accept import accept_signals, publish
from services.intake.api.gates import (
    REJECTED,
    STATE,
    Sender,
    admit,
    clean_body,
    identify,
    read_body,
    tenant_of,
    validate,
)
from services.intake.api.security import verify_signature
from services.intake.domain import pagerduty as pd

log = structlog.get_logger()


async def _pd_sender(request: web.Request) -> tuple[Sender, Any, list[str]]:
    state = request.app[STATE]
    raw = await read_body(request)
    data, changed = clean_body(raw)
    routing_key = data.get("routing_key") if isinstance(data, dict) else None
    if not isinstance(routing_key, str) or not routing_key:
        where = {"field": "routing_key", "message": "Field required"}
        raise ApiError(400, "validation_failed", "routing_key is required", [where])
    sender = identify(snapshot(request).config, routing_key)
    admit(state, sender)
    if sender.key.signature:
        verify_signature(sender.key.signature, request.headers, raw)
    return sender, data, changed


async def pd_enqueue(request: web.Request) -> web.Response:
    try:
        sender, data, changed = await _pd_sender(request)
        event = validate(pd.PdEvent, data)
        dedup = event.dedup_key or pd.generated_dedup_key(event)
        cis = set(sender.tenant.ci_index) if sender.tenant else set()
        signal = pd.pd_signal(event, dedup_key=dedup, known_cis=cis, ci_label=sender.key.ci_label,
                              tenant_label=sender.key.tenant_label)  # fmt: skip
        await accept_signals(request, sender, [signal], "pagerduty", changed)
    except ApiError as err:
        REJECTED.labels("pagerduty", str(err.status)).inc()
        log.info("intake.refused", format="pagerduty", status=err.status, code=err.code)
        return pd_error(err)
    return pd_success(dedup)


async def pd_change_enqueue(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        sender, data, changed = await _pd_sender(request)
        event = validate(pd.PdChangeEvent, data)
        k = sender.key
        signal = pd.change_tenant_signal(event, tenant_label=k.tenant_label)
        tenant = tenant_of(snapshot(request).config, sender, signal)
        change = pd.change_signal(
            event, tenant=tenant.id, known_cis=tenant.ci_index, integration=k.name, bound_ci=k.ci,
            ci_label=k.ci_label, idempotency_key=request.headers.get("Idempotency-Key"), received_at=utcnow(),
            sanitized=changed,
        )  # fmt: skip
        await publish(state, [events.change_received(change, tenant=tenant.id)], "pagerduty_change")
    except ApiError as err:
        REJECTED.labels("pagerduty_change", str(err.status)).inc()
        return pd_error(err)
    return web.json_response({"status": "success", "message": "Change event processed"}, status=202)


# PagerDuty's answer shapes. Everything the PagerDuty endpoints answer goes through these.
PD_STATUS = {
    400: ("invalid event", "Event object is invalid"),
    401: ("unauthorized", "Routing key is unknown or revoked"),
    403: ("forbidden", "Routing key may not send this event"),
    413: ("invalid event", "Event object is too large"),
    415: ("invalid event", "Content-Type must be application/json"),
    429: ("throttle event", "Requests for this service are arriving too quickly. Please retry later."),
    503: ("unavailable", "Event not stored; retry later"),
}


def pd_success(dedup_key: str | None) -> web.Response:
    body: dict[str, Any] = {"status": "success", "message": "Event processed"}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return web.json_response(body, status=202)


def pd_error(err: ApiError) -> web.Response:
    """Any ApiError in PagerDuty's shape; schema errors (422 elsewhere) are PagerDuty's 400 invalid event."""
    status = 400 if err.status == 422 else err.status
    label, message = PD_STATUS.get(status, ("error", err.message))
    errors = [f"{d['field']}: {d['message']}" if isinstance(d, dict) and "field" in d else str(d) for d in err.details]
    return web.json_response(
        {"status": label, "message": message, "errors": errors or [err.message]}, status=status, headers=err.headers
    )
