"""GET /openapi.json: the intake endpoints as an OpenAPI 3.1 document, built from the same pydantic models
that validate the bodies (so the document cannot drift from the code)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from libs.openapi import ERROR, REF
from services.intake.domain.alertmanager import AlertmanagerNotification, GrafanaNotification
from services.intake.domain.generic import GenericAlert
from services.intake.domain.pagerduty import PdChangeEvent, PdEvent
from services.intake.domain.signals import Beat, ControlResult, RecoveryTest

PD_RESULT = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "dedup_key": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
}
ACCEPTED = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"const": "accepted"},
        "alert_id": {"type": "string"},
        "event_id": {"type": "string"},
        "dedup_key": {"type": "string"},
        "alerts": {"type": "array", "items": {"type": "object"}},
        "truncated_alerts": {"type": "integer"},
        "heartbeats": {"type": "array", "items": {"type": "object"}},
        "heartbeat": {"type": "string"},
        "test_id": {"type": "string"},
        "result_id": {"type": "string"},
    },
}
REFUSALS = {
    "400": "malformed JSON",
    "401": "missing or unknown integration key, or a bad/stale signature",
    "413": "body over 512 KiB",
    "415": "not application/json",
    "422": "schema errors, with field paths",
    "429": "rate limited per key (Retry-After)",
    "503": "not stored (bus unavailable or triage overloaded); retry after Retry-After",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str, model: str, ok: dict[str, Any], err: dict[str, Any], *, pd: bool = False, path: str | None = None
) -> dict:
    responses = {"202": {"description": "durably accepted (stored in JetStream)", **_json(ok)}}
    for status, why in REFUSALS.items():
        if pd and status == "422":
            continue  # PagerDuty answers schema errors with 400 invalid event
        responses[status] = {"description": why, **_json(err)}
    parameters = [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"}}]
    if path is not None:  # a heartbeat's name, a control's id: one the key's tenant does not configure is 404
        parameters.append({"name": path, "in": "path", "required": True, "schema": {"type": "string"}})
        responses["404"] = {"description": f"the key's tenant configures no such {path}", **_json(err)}
    return {
        "post": {
            "summary": summary,
            "parameters": parameters,
            "requestBody": {"required": True, **_json({"$ref": REF.format(model=model)})},
            "responses": responses,
            **({"security": []} if pd else {}),  # PagerDuty: the routing_key in the body is the credential
        }
    }


@cache
def document() -> dict[str, Any]:
    models = [GenericAlert, AlertmanagerNotification, GrafanaNotification, PdEvent, PdChangeEvent, Beat, RecoveryTest,
              ControlResult]  # fmt: skip
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = {**defs["$defs"], "Error": ERROR, "PagerDutyResult": PD_RESULT, "Accepted": ACCEPTED}
    err, pd_res, ok = ({"$ref": REF.format(model=n)} for n in ("Error", "PagerDutyResult", "Accepted"))
    paths: dict[str, Any] = {
        "/v1/webhooks/generic": _operation("One alert as generic JSON", "GenericAlert", ok, err),
        "/v1/webhooks/alertmanager": _operation(
            "Prometheus Alertmanager webhook v4", "AlertmanagerNotification", ok, err
        ),
        "/v1/webhooks/grafana": _operation("Grafana alerting webhook", "GrafanaNotification", ok, err),
    }
    key_param = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    for name in ("generic", "alertmanager", "grafana"):
        op = {"post": {**paths[f"/v1/webhooks/{name}"]["post"]}}
        op["post"]["parameters"] = [*op["post"]["parameters"], key_param]
        op["post"]["security"] = []  # the key is in the path
        paths[f"/v1/webhooks/{name}/{{key}}"] = op
    for path in ("/v2/enqueue", "/v1/webhooks/pagerduty"):
        paths[path] = _operation("PagerDuty Events API v2 event", "PdEvent", pd_res, pd_res, pd=True)
    for path in ("/v2/change/enqueue", "/v1/webhooks/pagerduty/change"):
        paths[path] = _operation("PagerDuty change event", "PdChangeEvent", pd_res, pd_res, pd=True)
    paths["/v1/heartbeats/{name}"] = _operation(
        "A heartbeat's beat (a backup run's result)", "Beat", ok, err, path="name"
    )
    paths["/v1/heartbeats/{name}"]["post"]["requestBody"]["required"] = False  # no body at all is a beat
    paths["/v1/recovery-tests"] = _operation("A restore test of a CI", "RecoveryTest", ok, err)
    paths["/v1/controls/{id}/results"] = _operation(
        "A compliance control's result", "ControlResult", ok, err, path="id"
    )
    for item in paths.values():  # a key in a header, Authorization or the path: stated on each operation
        item["post"].setdefault("security", [{"bearer": []}, {"basic": []}, {"tierlineKey": []}])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tierline intake",
            "version": "1",
            "description": "Webhooks that monitoring tools call. See docs/intake.md for each format's mapping.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
                "tierlineKey": {"type": "apiKey", "in": "header", "name": "X-Tierline-Key"},
            },
        },
        "security": [{"bearer": []}, {"basic": []}, {"tierlineKey": []}],
    }
