"""POST /v1/webhooks/generic: one alert as the documented generic JSON (RMM tools, scripts, curl)."""

from __future__ import annotations

from aiohttp import web

from services.intake.api.accept import accept_signals
from services.intake.api.gates import clean_body, gated, validate
from services.intake.domain.generic import GenericAlert, generic_signals


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
