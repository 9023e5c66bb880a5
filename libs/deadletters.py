"""The dead-letter stream made visible: list its messages, re-publish one after a fix, count them for Prometheus.

A consumer gives up on a message after MAX_DELIVERIES failures while its dependencies were healthy
(libs/consumer.py) and puts it on `<prefix>_dlq.<consumer>.<original subject>` with its error in headers. This
module names no service: a service mounts `add_routes` (triage does) and a gateway prefix points at it.

Replaying re-publishes the envelope on its original subject under a NEW id (the old one would be dropped by
JetStream's duplicate window, and is in no failed consumer's inbox anyway: its transaction rolled back), with
`replayof` = the old id. Every consumer's inbox checks the original id for a replay (Envelope.inbox_id), so a
consumer that applied the original (another service, or reporting's ledger) skips the replay and only the one
that failed applies it. A mark `<prefix>_dlq_replayed.<id>` (on the same stream) records the replay, so a
second one is a 409, and the letter is deleted, so the list shows only what is still unresolved.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import nats.js.errors
import structlog
from aiohttp import web
from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg
from prometheus_client import Gauge

from libs.auth import Principal, authenticate
from libs.bus import Bus
from libs.errors import ApiError
from libs.events import Envelope
from libs.openapi import operation
from libs.query import check_query, limit_problems, whole
from libs.web import respond, snapshot
from libs.workers import Worker

log = structlog.get_logger()
IN_STREAM = Gauge("tierline_dead_letter_messages", "Messages on the dead-letter stream, not yet replayed")
SCAN_LIMIT = 10_000  # letters looked at per listing, newest first: a bound on one request's work
ADMINS = {"admin"}  # provider_admin too (libs/auth.EQUIVALENT)


@dataclass
class DeadLetter:
    id: int  # the dead-letter stream's sequence number
    consumer: str
    subject: str  # where it was published first, and where a replay goes
    tenant: str | None
    event_type: str | None
    event_id: str | None
    error: str
    deliveries: int
    time: datetime | None  # when it was dead-lettered
    data: dict[str, Any] | None  # the envelope's payload (None if the envelope itself was unreadable)
    replay_of: str | None = None


class LetterGone(Exception):
    """The letter was replayed already (409) or never existed (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def letter_event(msg: Msg) -> Envelope:
    """A dead letter consumed as an event of its own (a fallback consumer's decoder): type
    `deadletter.<original type, dots as underscores>`, keyed by the original event (its first id, for a replay)
    so the letters of one event from several consumers are one, carrying its payload and why it failed."""
    original = Envelope.decode(msg.data)
    headers = msg.headers or {}
    return Envelope(
        id=f"deadletter:{original.inbox_id}",
        source="tierline/deadletter",
        type=f"tierline.deadletter.{original.short_type.replace('.', '_')}",
        tenant=original.tenant,
        correlationid=original.correlationid,
        causationid=original.id,
        subject=original.subject,
        data={
            "payload": original.data,
            "event_id": original.inbox_id,
            "error": headers.get("Tierline-Error", ""),
            "consumer": headers.get("Tierline-Consumer", ""),
            "subject": headers.get("Tierline-Subject", ""),
        },
    )


def letter_of(msg: RawStreamMsg) -> DeadLetter:
    headers = msg.headers or {}
    try:
        env: Envelope | None = Envelope.decode(msg.data or b"")
    except Exception:
        env = None
    deliveries = headers.get("Tierline-Deliveries", "0")
    return DeadLetter(
        id=int(msg.seq or 0),
        consumer=headers.get("Tierline-Consumer", ""),
        subject=headers.get("Tierline-Subject", ""),
        tenant=env.tenant if env else None,
        event_type=env.short_type if env else None,
        event_id=env.id if env else None,
        error=headers.get("Tierline-Error", ""),
        deliveries=whole(deliveries) or 0,
        time=msg.time,
        data=env.data if env else None,
        replay_of=env.replayof if env else None,
    )


async def list_letters(
    bus: Bus, *, consumer: str | None = None, tenant: str | None = None, who: Principal, limit: int = 50
) -> list[DeadLetter]:
    """The newest letters first, those the token may see, filtered by consumer and tenant."""
    state = (await bus.js.stream_info(bus.dead_letter_stream)).state
    out: list[DeadLetter] = []
    if not state.messages:
        return out
    seq = state.last_seq
    while seq >= max(state.first_seq or 1, state.last_seq - SCAN_LIMIT) and len(out) < limit:
        try:
            raw = await bus.js.get_msg(bus.dead_letter_stream, seq)
        except nats.js.errors.NotFoundError:  # replayed (deleted)
            raw = None
        seq -= 1
        if raw is None or (raw.subject or "").startswith(_mark_prefix(bus)):
            continue
        letter = letter_of(raw)
        if (consumer and letter.consumer != consumer) or (tenant and letter.tenant != tenant):
            continue
        # An unreadable envelope names no tenant: only a token that sees every tenant sees it.
        if who.can_see(letter.tenant) if letter.tenant else who.tenant is None and who.scope is None:
            out.append(letter)
    return out


def _mark_prefix(bus: Bus) -> str:
    return f"{bus.prefix}_dlq_replayed."


async def _replayed_as(bus: Bus, seq: int) -> str | None:
    try:
        mark = await bus.js.get_msg(bus.dead_letter_stream, subject=f"{_mark_prefix(bus)}{seq}")
    except nats.js.errors.NotFoundError:
        return None
    return (mark.data or b"").decode() or "?"


def replay_id(bus: Bus, letter: DeadLetter) -> str:
    """The replay's event id, from the letter: two replays racing publish one event (JetStream drops the copy)."""
    basis = f"replay:{bus.dead_letter_stream}:{letter.id}:{letter.event_id}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


async def replay(bus: Bus, seq: int, *, who: Principal) -> Envelope:
    """Re-publish letter `seq` on its original subject with a new id recorded as a replay; mark it replayed and
    delete it."""
    if replayed := await _replayed_as(bus, seq):
        raise LetterGone(409, f"dead letter {seq} was replayed already, as event {replayed}")
    try:
        raw = await bus.js.get_msg(bus.dead_letter_stream, seq)
    except nats.js.errors.NotFoundError:
        raise LetterGone(404, f"no dead letter {seq}") from None
    letter = letter_of(raw)
    if (raw.subject or "").startswith(_mark_prefix(bus)) or letter.tenant is None or not letter.subject:
        raise LetterGone(404, f"no dead letter {seq} that can be replayed")
    if not who.can_see(letter.tenant):
        raise LetterGone(404, f"no dead letter {seq}")
    old = Envelope.decode(raw.data or b"")
    new = old.model_copy(update={"id": replay_id(bus, letter), "replayof": old.replayof or old.id})
    await bus.js.publish(letter.subject, new.encode(), headers={"Nats-Msg-Id": new.id}, timeout=5)
    # The mark first, then the delete: a crash in between leaves a letter listed that a replay refuses (409),
    # never one replayed twice. Two replays racing publish one event: the same id, inside the duplicate window.
    await bus.js.publish(f"{_mark_prefix(bus)}{seq}", new.id.encode(), timeout=5)
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await bus.js.delete_msg(bus.dead_letter_stream, seq)
    log.info("deadletter.replayed", letter=seq, event_id=new.id, replay_of=new.replayof, subject=letter.subject,
             by=who.user)  # fmt: skip
    return new


def gauge(bus: Bus, *, every_s: float = 10.0) -> Worker:
    """Keeps tierline_dead_letter_messages current (an alert rule in docs/operations.md watches it)."""

    async def refresh() -> int:
        info = await bus.js.stream_info(bus.dead_letter_stream, subjects_filter=f"{bus.prefix}_dlq.>")
        IN_STREAM.set(sum((info.state.subjects or {}).values()))  # letters only, not the replay marks
        return 0

    return Worker("dead-letter-gauge", refresh, poll_s=every_s)


BUS: web.AppKey[Bus] = web.AppKey("deadletters_bus", Bus)


@operation("dead letters (provider admins)", query={"consumer": None, "tenant": None, "limit": None})
async def list_route(request: web.Request) -> web.Response:
    """GET /v1/deadletters?consumer=&tenant=&limit=: provider admins only."""
    who = authenticate(request, snapshot(request).tokens, roles=ADMINS)
    q = request.query
    problems = limit_problems(limit := q.get("limit", "50"))
    check_query(request, {"consumer", "tenant", "limit"}, problems)
    letters = await list_letters(
        request.app[BUS], consumer=q.get("consumer"), tenant=q.get("tenant"), who=who, limit=int(limit)
    )
    return respond({"items": [asdict(letter) for letter in letters]})


@operation("re-publish one dead letter (once)", ok=202)
async def replay_route(request: web.Request) -> web.Response:
    """POST /v1/deadletters/{id}/replay: 202 with the new event id; 409 if replayed already; 404 if none."""
    who = authenticate(request, snapshot(request).tokens, roles=ADMINS)
    raw = request.match_info["id"]
    if not (seq := whole(raw)):  # a stream sequence: 1 and up, at most 2^63 - 1
        raise ApiError(404, "not_found", f"no dead letter {raw}")
    try:
        new = await replay(request.app[BUS], seq, who=who)
    except LetterGone as gone:
        raise ApiError(gone.status, "already_replayed" if gone.status == 409 else "not_found", str(gone)) from None
    body = {"status": "replayed", "id": seq, "event_id": new.id, "replay_of": new.replayof}
    return respond(body, status=202)


def add_routes(app: web.Application, bus: Bus) -> None:
    """The dead-letter routes on a service's app; the token check reads each request's configuration version."""
    app[BUS] = bus
    app.router.add_get("/v1/deadletters", list_route)
    app.router.add_post("/v1/deadletters/{id}/replay", replay_route)
