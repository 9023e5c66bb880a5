"""POST /v1/heartbeats/{name}, /v1/recovery-tests and /v1/controls/{id}/results: what tools report besides
alerts, each with a tenant's own integration key, through the same gates as every webhook. 202 once JetStream
stored the event; a heartbeat or control the key's tenant does not configure is 404 (another tenant's name
is unknown here too); a body that does not fit is 422 with its field paths."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel

from libs.config import Tenant
from libs.errors import ApiError
from libs.events import Envelope, utcnow
from services.intake import events
from services.intake.api.accept import publish
from services.intake.api.gates import STATE, Sender, clean_body, gated, idempotency_key, validate
from services.intake.domain import signals as sig

STORED = Counter("tierline_intake_signals_total", "Heartbeats, restore tests and control results stored", ["kind"])
M = TypeVar("M", bound=BaseModel)


def _tenant(sender: Sender) -> Tenant:
    if sender.tenant is None:
        raise ApiError(403, "tenant_key_required", "send this with the integration key of the tenant it is about")
    return sender.tenant


def _body(raw: bytes, model: type[M]) -> M:
    return validate(model, clean_body(raw)[0]) if raw.strip() else model()


async def _store(request: web.Request, env: Envelope, kind: str, answer: dict[str, Any]) -> web.Response:
    await publish(request.app[STATE], [env], kind, alerts=0)
    STORED.labels(kind).inc()
    return web.json_response({"status": "accepted", **answer, "event_id": env.id}, status=202)


def _refused(exc: sig.Refused) -> ApiError:
    return ApiError(422, "validation_failed", "the request body failed validation", exc.details)


async def heartbeat(request: web.Request) -> web.Response:
    sender, raw = await gated(request, "heartbeat", optional_body=True)
    tenant, name = _tenant(sender), request.match_info["name"]
    spec = tenant.heartbeat_index.get(name)
    if spec is None:
        raise ApiError(404, "unknown_heartbeat", f"no heartbeat {name!r} is configured for this key's tenant")
    try:
        beat = sig.beat(spec, _body(raw, sig.Beat), source="http", integration=sender.key.name, now=utcnow())
    except sig.Refused as exc:
        raise _refused(exc) from None
    event_id = sig.beat_id(tenant.id, beat, idempotency_key(request))
    answer: dict[str, Any] = {"heartbeat": name}
    if beat.kind == "backup":  # what the run was taken as: a success restores to its recovery point
        answer |= {"result": beat.status, "recovery_point": beat.recovery_point and beat.recovery_point.isoformat()}
    return await _store(
        request, events.heartbeat_received(beat, tenant=tenant.id, event_id=event_id), "heartbeat", answer
    )


async def recovery_test(request: web.Request) -> web.Response:
    sender, raw = await gated(request, "recovery_test")
    tenant = _tenant(sender)
    body = validate(sig.RecoveryTest, clean_body(raw)[0])
    try:
        test = sig.recovery_test(tenant, body, integration=sender.key.name, idempotency_key=idempotency_key(request),
                                 now=utcnow())  # fmt: skip
    except sig.Refused as exc:
        raise _refused(exc) from None
    return await _store(request, events.recovery_test_recorded(test, tenant=tenant.id), "recovery_test",
                        {"test_id": test.test_id})  # fmt: skip


async def control_result(request: web.Request) -> web.Response:
    sender, raw = await gated(request, "control_result")
    tenant, control_id = _tenant(sender), request.match_info["id"]
    control = tenant.control_index.get(control_id)
    if control is None:
        raise ApiError(404, "unknown_control", f"no control {control_id!r} is configured for this key's tenant")
    body = validate(sig.ControlResult, clean_body(raw)[0])
    try:
        result = sig.control_result(tenant, control, body, integration=sender.key.name,
                                    idempotency_key=idempotency_key(request), now=utcnow())  # fmt: skip
    except sig.Refused as exc:
        raise _refused(exc) from None
    return await _store(request, events.control_result_recorded(result, tenant=tenant.id), "control_result",
                        {"result_id": result.result_id, "ci": result.ci})  # fmt: skip
