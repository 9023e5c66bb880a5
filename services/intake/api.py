"""Intake's HTTP API: one endpoint per monitoring tool's own format, one acceptance path behind them.

Every request passes the same gates in the same order -- key (401), rate limit (429), content type (415),
size (413), signature (401), JSON (400), schema (422; PagerDuty's 400 on its endpoints) -- and only then is
anything published. 202 means JetStream stored every alert of the request; if it could not, 503 with
Retry-After (senders retry 5xx; Alertmanager drops a notification answered 4xx).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from libs.bus import Bus
from libs.config import IntegrationKey, Tenant, TierlineConfig, sha256_hex
from libs.contracts import AlertReceived, ChangeSignalReceived
from libs.errors import ApiError, parse_json, validation_error
from libs.events import Envelope, raise_event, utcnow
from libs.text import scrub_tree
from services.intake import pagerduty as pd
from services.intake.alertmanager import AlertmanagerNotification, GrafanaNotification, alert_signals
from services.intake.domain import GenericAlert, Signal, content_id, generic_signals, sanitized_for, to_alert
from services.intake.openapi import document
from services.intake.security import RateLimiter, key_from_headers, retry_after, verify_signature

log = structlog.get_logger()
MAX_BODY = 512 * 1024
ACCEPTED = Counter("tierline_intake_alerts_total", "Alert events stored", ["format"])
REJECTED = Counter("tierline_intake_rejections_total", "Requests refused", ["format", "status"])
M = TypeVar("M", bound=BaseModel)


@dataclass
class IntakeState:
    bus: Bus
    config: TierlineConfig
    overloaded: bool = False
    lag: int = 0
    lag_s: float = 0.0
    limiter: RateLimiter = field(default_factory=RateLimiter)


STATE: web.AppKey[IntakeState] = web.AppKey("intake", IntakeState)


@dataclass
class Sender:
    tenant: Tenant | None  # None: a provider-wide key, each alert names its tenant
    key: IntegrationKey


def identify(state: IntakeState, presented: str | None) -> Sender:
    if not presented:
        raise ApiError(
            401,
            "missing_integration_key",
            "send the integration key as 'Authorization: Bearer <key>', Basic auth, X-Tierline-Key, or in the path",
        )
    found = state.config.integration_keys.get(sha256_hex(presented))  # a dict of digests: no early-exit compare
    if found is None:
        raise ApiError(401, "unknown_integration_key", "the integration key is unknown or revoked")
    return Sender(*found)


def admit(state: IntakeState, sender: Sender) -> None:
    wait = state.limiter.take(sender.key.key_sha256, sender.key.rate_limit)
    if wait:
        headers = {"Retry-After": retry_after(wait)}
        raise ApiError(429, "rate_limited", "too many requests for this integration key; retry later", headers=headers)


async def read_body(request: web.Request) -> bytes:
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


def tenant_of(state: IntakeState, sender: Sender, signal: Signal) -> Tenant:
    """A tenant key writes only to its tenant (any tenant label is ignored); a provider key needs the label,
    and a refusal names the field where this format's body carries it (`labels.tenant`, `alerts.3.labels.tenant`)."""
    if sender.tenant is not None:
        return sender.tenant
    label = sender.key.tenant_label
    tenant = state.config.tenant(signal.tenant_hint or "")
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


async def publish(state: IntakeState, envs: list[Envelope], fmt: str) -> None:
    if state.overloaded:  # refuse rather than accept what cannot be processed in time; the sender retries
        headers = {"Retry-After": "5"}
        behind = f"triage is {state.lag} messages and {state.lag_s:.0f} s behind; retry shortly"
        raise ApiError(503, "overloaded", behind, headers=headers)
    try:
        await state.bus.publish_many(envs)
    except Exception as exc:
        log.error("intake.publish_failed", format=fmt, events=len(envs), error=repr(exc))
        raise ApiError(503, "bus_unavailable", "not stored; retry", headers={"Retry-After": "2"}) from None
    ACCEPTED.labels(fmt).inc(len(envs))


async def accept_signals(
    request: web.Request, sender: Sender, signals: list[Signal], fmt: str, changed: list[str]
) -> list[AlertReceived]:
    """Signals -> alert events, all stored or none answered as stored; `changed`: what clean_body replaced."""
    state, now, idem = request.app[STATE], utcnow(), idempotency_key(request)
    tenants = [tenant_of(state, sender, s) for s in signals]
    alerts, envs = [], []
    for i, (s, tenant) in enumerate(zip(signals, tenants, strict=True)):
        aid = content_id(tenant.id, sender.key.name, s, idem, i)
        sanitized = sanitized_for(changed, i, batch=len(signals) > 1 or fmt in ("alertmanager", "grafana"))
        alert = to_alert(s, alert_id=aid, integration=sender.key.name, bound_ci=sender.key.ci, received_at=now,
                         sanitized=sanitized)  # fmt: skip
        if sanitized:
            log.info("intake.sanitized", alert_id=aid, fields=sanitized)
        alerts.append(alert)
        envs.append(raise_event("alert.received", alert, source="intake", tenant=tenant.id, subject=aid,
                                correlation_id=request.headers.get("X-Request-Id"), event_id=aid))  # fmt: skip
    await publish(state, envs, fmt)
    tenant_ids = sorted({t.id for t in tenants})
    log.info("intake.accepted", format=fmt, integration=sender.key.name, alerts=len(alerts), tenants=tenant_ids)
    return alerts


async def gated(request: web.Request, fmt: str) -> tuple[Sender, bytes]:
    state = request.app[STATE]
    sender = identify(state, key_from_headers(request.headers, request.match_info.get("key")))
    admit(state, sender)
    raw = await read_body(request)
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


async def generic_webhook(request: web.Request) -> web.Response:
    sender, raw = await gated(request, "generic")
    data, changed = clean_body(raw)
    body = validate(GenericAlert, data)
    [alert] = await accept_signals(
        request, sender, generic_signals(body, ci_label=sender.key.ci_label, tenant_label=sender.key.tenant_label),
        "generic", changed,
    )  # fmt: skip
    return web.json_response(
        {"status": "accepted", "alert_id": alert.alert_id, "event_id": alert.alert_id, "dedup_key": alert.dedup_key},
        status=202,
    )


def notification_handler(model: type[AlertmanagerNotification], source: str):
    async def handler(request: web.Request) -> web.Response:
        sender, raw = await gated(request, source)
        data, changed = clean_body(raw)
        body = validate(model, data)
        k = sender.key
        signals = alert_signals(body, source=source, ci_label=k.ci_label, tenant_label=k.tenant_label)
        alerts = await accept_signals(request, sender, signals, source, changed)
        listed = [{"alert_id": a.alert_id, "dedup_key": a.dedup_key, "status": a.status} for a in alerts]
        return web.json_response(
            {"status": "accepted", "alerts": listed, "truncated_alerts": body.truncatedAlerts}, status=202
        )

    return handler


async def _pd_sender(request: web.Request) -> tuple[Sender, Any, list[str]]:
    state = request.app[STATE]
    raw = await read_body(request)
    data, changed = clean_body(raw)
    routing_key = data.get("routing_key") if isinstance(data, dict) else None
    if not isinstance(routing_key, str) or not routing_key:
        where = {"field": "routing_key", "message": "Field required"}
        raise ApiError(400, "validation_failed", "routing_key is required", [where])
    sender = identify(state, routing_key)
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
        return pd.pd_error(err)
    return pd.pd_success(dedup)


async def pd_change_enqueue(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        sender, data, changed = await _pd_sender(request)
        event = validate(pd.PdChangeEvent, data)
        p, k = event.payload, sender.key
        details = p.custom_details or {}
        hint = details.get(k.tenant_label)
        tenant = tenant_of(state, sender, Signal("pagerduty", "", "firing", "info", p.summary,
                                                  tenant_hint=hint if isinstance(hint, str) else None,
                                                  tenant_field=f"payload.custom_details.{k.tenant_label}"))  # fmt: skip
        ci = details.get(k.ci_label) if isinstance(details.get(k.ci_label), str) else None
        ci = ci or k.ci or (p.source if p.source in tenant.ci_index else None)
        basis = json.dumps([tenant.id, k.name, event.model_dump(mode="json")], sort_keys=True)
        signal_id = sha256_hex(request.headers.get("Idempotency-Key") or basis)[:32]
        change = ChangeSignalReceived(
            signal_id=signal_id, source=p.source or "pagerduty", integration=k.name, summary=p.summary, ci=ci,
            timestamp=p.timestamp, received_at=utcnow(), custom_details=details,
            links=[link.model_dump(exclude_none=True) for link in event.links], sanitized=changed,
        )  # fmt: skip
        env = raise_event("intake.change_received", change, source="intake", tenant=tenant.id, subject=signal_id,
                          event_id=signal_id)  # fmt: skip
        await publish(state, [env], "pagerduty_change")
    except ApiError as err:
        REJECTED.labels("pagerduty_change", str(err.status)).inc()
        return pd.pd_error(err)
    return web.json_response({"status": "success", "message": "Change event processed"}, status=202)


async def openapi(_: web.Request) -> web.Response:
    return web.json_response(document())


def add_routes(app: web.Application) -> None:
    generic = counted("generic", generic_webhook)
    am = counted("alertmanager", notification_handler(AlertmanagerNotification, "alertmanager"))
    grafana = counted("grafana", notification_handler(GrafanaNotification, "grafana"))
    for path, handler in [("generic", generic), ("alertmanager", am), ("grafana", grafana)]:
        app.router.add_post(f"/v1/webhooks/{path}", handler)
        app.router.add_post(f"/v1/webhooks/{path}/{{key}}", handler)
    for path in ("/v2/enqueue", "/v1/webhooks/pagerduty"):
        app.router.add_post(path, pd_enqueue)
    for path in ("/v2/change/enqueue", "/v1/webhooks/pagerduty/change"):
        app.router.add_post(path, pd_change_enqueue)
    app.router.add_get("/openapi.json", openapi)
