"""POST /v1/webhooks/alertmanager and /v1/webhooks/grafana: one notification, each of its alerts stored as its
own alert event, all or none. An alert whose name the tenant maps to a heartbeat (Watchdog, DeadMansSwitch) is
a beat of that heartbeat instead, never an alert; resolved, it is neither (its silence will tell)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from libs.events import Envelope, utcnow
from libs.web import snapshot
from services.intake import events
from services.intake.api.accept import accept_signals
from services.intake.api.gates import Sender, clean_body, gated, idempotency_key, tenant_of, validate
from services.intake.domain.alert import Signal
from services.intake.domain.alertmanager import AlertmanagerNotification, alert_signals
from services.intake.domain.signals import Beat, beat, beat_id, watchdog


def _beats(
    request: web.Request, sender: Sender, signals: list[Signal], source: str
) -> tuple[list[Signal], list[Envelope]]:
    """The alerts that are alerts, and the beats of the heartbeats the others stand for."""
    alerts, beats, now = [], [], utcnow()
    for s in signals:
        tenant = tenant_of(snapshot(request).config, sender, s)
        spec = watchdog(tenant, s)
        if spec is None:
            alerts.append(s)
        elif s.status == "firing":
            b = beat(spec, Beat(), source=source, integration=sender.key.name, now=now)
            beats.append(
                events.heartbeat_received(b, tenant=tenant.id, event_id=beat_id(tenant.id, b, idempotency_key(request)))
            )
    return alerts, beats


def notification_handler(
    model: type[AlertmanagerNotification], source: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        sender, raw = await gated(request, source)
        data, changed = clean_body(raw)
        body = validate(model, data)
        k = sender.key
        signals = alert_signals(body, source=source, ci_label=k.ci_label, tenant_label=k.tenant_label)
        signals, beats = _beats(request, sender, signals, source)
        alerts = await accept_signals(request, sender, signals, source, changed, beats)
        listed = [{"alert_id": a.alert_id, "dedup_key": a.dedup_key, "status": a.status} for a in alerts]
        answer = {"status": "accepted", "alerts": listed, "truncated_alerts": body.truncatedAlerts}
        if beats:
            answer["heartbeats"] = [{"heartbeat": e.subject, "event_id": e.id} for e in beats]
        return web.json_response(answer, status=202)

    return handler
