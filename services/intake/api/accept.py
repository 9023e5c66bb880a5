"""The one acceptance path behind every format: signals become alert events, and the request is answered as
accepted only once JetStream stored every one (store.py). 503 with Retry-After otherwise (senders retry 5xx;
Alertmanager drops a notification answered 4xx), and while triage is too far behind to take more."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from aiohttp import web
from prometheus_client import Counter

from libs.contracts import AlertReceived
from libs.errors import ApiError
from libs.events import Envelope, utcnow
from libs.web import snapshot
from services.intake import events, store
from services.intake.api.gates import STATE, IntakeState, Sender, idempotency_key, tenant_of
from services.intake.domain.alert import Signal, content_id, sanitized_for, to_alert

log = structlog.get_logger()
ACCEPTED = Counter("tierline_intake_alerts_total", "Alert events stored", ["format"])


async def publish(state: IntakeState, envs: list[Envelope], fmt: str, *, alerts: int | None = None) -> None:
    """Store the request's events, or refuse it whole with 503 (nothing of it is answered as stored).
    `alerts`: how many of them are alerts, for the counter (default: all)."""
    backlog = state.backlog
    if backlog.overloaded:  # refuse rather than accept what cannot be processed in time; the sender retries
        headers = {"Retry-After": "5"}
        behind = f"triage is {backlog.messages} messages and {backlog.seconds:.0f} s behind; retry shortly"
        raise ApiError(503, "overloaded", behind, headers=headers)
    try:
        await store.store_events(state.bus, events=envs)
    except store.NotStored as exc:
        log.error("intake.publish_failed", format=fmt, events=len(envs), error=str(exc))
        raise ApiError(503, "bus_unavailable", "not stored; retry", headers={"Retry-After": "2"}) from None
    ACCEPTED.labels(fmt).inc(len(envs) if alerts is None else alerts)


async def accept_signals(
    request: web.Request,
    sender: Sender,
    signals: list[Signal],
    fmt: str,
    changed: list[str],
    beats: Sequence[Envelope] = (),
) -> list[AlertReceived]:
    """Signals -> alert events, all stored or none answered as stored, with the request's `beats` (alerts that
    count as a heartbeat); `changed`: what clean_body replaced."""
    state, now, idem = request.app[STATE], utcnow(), idempotency_key(request)
    tenants = [tenant_of(snapshot(request).config, sender, s) for s in signals]
    alerts, envs = [], []
    for i, (s, tenant) in enumerate(zip(signals, tenants, strict=True)):
        aid = content_id(tenant.id, sender.key.name, s, idem, i)
        sanitized = sanitized_for(changed, i, batch=len(signals) > 1 or fmt in ("alertmanager", "grafana"))
        alert = to_alert(s, alert_id=aid, integration=sender.key.name, bound_ci=sender.key.ci, received_at=now,
                         sanitized=sanitized)  # fmt: skip
        if sanitized:
            log.info("intake.sanitized", alert_id=aid, fields=sanitized)
        alerts.append(alert)
        envs.append(events.alert_received(alert, tenant=tenant.id, correlation_id=request.headers.get("X-Request-Id")))
    await publish(state, [*envs, *beats], fmt, alerts=len(envs))
    tenant_ids = sorted({t.id for t in tenants})
    log.info("intake.accepted", format=fmt, integration=sender.key.name, alerts=len(alerts), tenants=tenant_ids)
    return alerts
