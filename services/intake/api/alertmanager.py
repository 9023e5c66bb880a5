"""POST /v1/webhooks/alertmanager and /v1/webhooks/grafana: one notification, each of its alerts stored as its
own alert event, all or none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.intake.api.accept import accept_signals
from services.intake.api.gates import clean_body, gated, validate
from services.intake.domain.alertmanager import AlertmanagerNotification, alert_signals


def notification_handler(
    model: type[AlertmanagerNotification], source: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
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
