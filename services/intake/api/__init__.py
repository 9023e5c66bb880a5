"""Intake's HTTP API: one endpoint per monitoring tool's own format, one acceptance path behind them.

Every request passes the same gates in the same order (gates.py) -- key (401), rate limit (429), content type
(415), size (413), signature (401), JSON (400), schema (422; PagerDuty's 400 on its endpoints) -- and only then
is anything published (accept.py). 202 means JetStream stored every alert of the request; if it could not, 503
with Retry-After. The formats: generic.py, alertmanager.py (and Grafana), pagerduty.py; heartbeats, restore
tests and control results: signals.py; openapi.py describes them all.
"""

from __future__ import annotations

from aiohttp import web

from libs.openapi import OVERRIDES
from services.intake.api.alertmanager import notification_handler
from services.intake.api.gates import counted
from services.intake.api.generic import generic_webhook
from services.intake.api.openapi import document
from services.intake.api.pagerduty import pd_change_enqueue, pd_enqueue
from services.intake.api.signals import control_result, heartbeat, recovery_test
from services.intake.domain.alertmanager import AlertmanagerNotification, GrafanaNotification


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
    app.router.add_post("/v1/heartbeats/{name}", counted("heartbeat", heartbeat))
    app.router.add_post("/v1/recovery-tests", counted("recovery_test", recovery_test))
    app.router.add_post("/v1/controls/{id}/results", counted("control_result", control_result))
    app[OVERRIDES] = document()  # GET /openapi.json (libs/web.py): the webhooks as openapi.py writes them
