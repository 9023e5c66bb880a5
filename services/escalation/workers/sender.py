"""The notification sender: claims due deliveries (one replica each), sends them, records every attempt.

The claim commits in one unit of work, the sending happens outside any transaction (a slow target holds no
lock or connection), and each attempt commits in its own the moment its answer is in. A failed attempt is
retried with exponential backoff; after the last one the row stays as the dead-letter record (status `dead`) and a
`notification.dead_lettered` event says so. A process dying mid-send leaves the row leased, so after the lease
another replica sends it again: receivers dedupe on Tierline-Delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import asyncpg
import structlog
from prometheus_client import Counter

from libs.config import TierlineConfig
from libs.config.live import LiveConfig
from libs.faults import is_infrastructure
from libs.outbox import Outbox
from libs.settings import Settings
from libs.uow import Tx, unit_of_work
from libs.web import Origin
from libs.workers import Worker
from services.escalation import events
from services.escalation.domain.notifications import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Attempt,
    Delivery,
    after_attempt,
    sign,
)
from services.escalation.store import notifications
from services.escalation.workers.links import LinkMaker

log = structlog.get_logger()
ATTEMPTS = Counter("tierline_notification_attempts_total", "Notification attempts", ["kind", "outcome"])


def notification_sender(
    pool: asyncpg.Pool,
    outbox: Outbox,
    live: LiveConfig,
    settings: Settings,
    http: aiohttp.ClientSession,
    origin: Origin,
    *,
    batch: int = 50,
) -> Worker:
    lease_s = settings.notify_timeout_s * 3 + 5  # far longer than one send can take
    valid_for = timedelta(hours=settings.ack_link_hours)

    async def tick() -> int:
        # Claim, send and record as one piece that a stop lets finish: a stop landing as the claim commits
        # would otherwise leave its rows leased, unsent until the lease ran out.
        return await finished(asyncio.create_task(claim_and_deliver()))

    async def claim_and_deliver() -> int:
        config = live.config()  # one configuration version for the whole tick
        lease_ends = time.monotonic() + lease_s
        async with unit_of_work(pool, outbox) as tx:
            due = await notifications.claim_due(tx.conn, limit=batch, lease_s=lease_s)
            # The links of each page, committed before the page that carries them is sent.
            due = await LinkMaker(config, origin, valid_for).add(tx, due)
        if not due:
            return 0
        return await deliver(Sender(config, settings, http), due, lease_ends)

    async def deliver(send: Sender, due: list[Delivery], lease_ends: float) -> int:
        started = time.perf_counter()
        await asyncio.gather(*(send_and_record(send, d, lease_ends) for d in due))
        log.debug("notifications.sent", count=len(due), seconds=round(time.perf_counter() - started, 3))
        return len(due)

    async def send_and_record(send: Sender, delivery: Delivery, lease_ends: float) -> None:
        # Each attempt commits the moment its answer is in, not with the whole batch's: a process killed then
        # leaves unrecorded (and so sent again after the lease) only the sends whose answers were not yet
        # committed, instead of every send of the batch that had finished (the chaos suite counted 50, a batch).
        attempt = await send(delivery)
        delay = 0.2
        while True:
            try:
                async with unit_of_work(pool, outbox) as tx:
                    await _record(tx, settings, delivery, attempt)
                return
            except Exception as exc:
                # The target answered and PostgreSQL is away: keep the answer and try again while the lease holds,
                # or the row goes out again once it runs out (the chaos suite's 30 s outage re-sent a batch).
                if not is_infrastructure(exc) or time.monotonic() + delay > lease_ends:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    return Worker("notification-sender", tick, poll_s=settings.timer_poll_s, batch=batch)


async def finished(work: asyncio.Task[int]) -> int:
    """Sends in flight when the service stops are finished and recorded (at most the send timeout), then the
    stop goes on: cut off, they would stay leased and go out only after the lease, or twice."""
    stopping = False
    while not work.done():
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            stopping = True
    if stopping:
        raise asyncio.CancelledError
    return work.result()


async def _record(tx: Tx, settings: Settings, d: Delivery, attempt: Attempt) -> None:
    now = datetime.now(UTC)
    status, next_at = after_attempt(
        attempt.ok, d.attempts, at=now, max_attempts=settings.notify_max_attempts, backoff_s=settings.notify_backoff_s
    )
    ATTEMPTS.labels(d.kind, "ok" if attempt.ok else "failed").inc()
    await notifications.record_attempt(tx.conn, d, attempt, at=now, status=status, next_at=next_at)
    if status == "pending":
        log.info("notification.retry", target=d.target, attempt=d.attempts, error=attempt.error, next_at=next_at)
        return
    if status == "dead":
        log.error("notification.dead_lettered", target=d.target, attempts=d.attempts, error=attempt.error)
    tx.emit(events.notification_outcome(d, status, attempt.error, now))


@dataclass(frozen=True)
class Destination:
    """A tenant's notification target or a person's contact method: what sending needs of either."""

    kind: str
    url: str | None
    to: list[str]
    secret_env: str | None
    secret: str | None


class Sender:
    """Sends one delivery to its target (signed webhook, Slack-compatible webhook, e-mail) and says how it went."""

    def __init__(self, config: TierlineConfig, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.config, self.settings, self.http = config, settings, http

    async def __call__(self, d: Delivery) -> Attempt:
        t0 = time.perf_counter()
        try:
            ok, code, error = await self._send(d)
        except Exception as exc:  # the target is down, slow or refuses: recorded, retried later
            ok, code, error = False, None, f"{type(exc).__name__}: {exc}"[:500]
        return Attempt(ok, code, error, (time.perf_counter() - t0) * 1000)

    def _destination(self, d: Delivery) -> Destination | None:
        """Where it goes: a page's contact method of its person, else the tenant's target (as configured now)."""
        if d.person is not None:
            person = self.config.directory.person(d.tenant, d.person)
            methods = person.contact_methods if person else []
            if d.method is None or not 0 <= d.method < len(methods):
                return None
            m = methods[d.method]
            return Destination(m.kind, m.url, [m.to] if m.to else [], m.secret_env, m.secret)
        tenant = self.config.tenant(d.tenant)
        found = [t for t in tenant.notifications.targets if t.name == d.target] if tenant else []
        return (
            Destination(found[0].kind, found[0].url, found[0].to, found[0].secret_env, found[0].secret)
            if found
            else None
        )

    async def _send(self, d: Delivery) -> tuple[bool, int | None, str | None]:
        target = self._destination(d)
        if target is None:
            what = f"contact method {d.method} of {d.person!r}" if d.person else f"target {d.target!r}"
            return False, None, f"{what} is no longer configured"
        body = d.body.encode()
        if target.kind == "email":
            return await self._mail(target, json.loads(body))
        headers = {"Content-Type": "application/json", "User-Agent": "Tierline", DELIVERY_HEADER: d.id}
        if target.kind == "webhook":
            secret = os.environ.get(target.secret_env, "") if target.secret_env else target.secret or ""
            if not secret:
                return False, None, f"signing secret not set (environment variable {target.secret_env})"
            ts = int(time.time())
            headers |= {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}
        assert target.url
        async with self.http.post(target.url, data=body, headers=headers) as resp:
            await resp.read()
            ok = 200 <= resp.status < 300
            return ok, resp.status, None if ok else f"HTTP {resp.status}"

    async def _mail(self, target: Destination, body: dict[str, str]) -> tuple[bool, int | None, str | None]:
        smtp = self.config.provider.smtp
        if smtp is None:
            return False, None, "no provider.smtp configured"
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = smtp.sender, ", ".join(target.to), body["subject"]
        msg.set_content(body["text"])
        password = os.environ.get(smtp.password_env) if smtp.password_env else None
        await aiosmtplib.send(
            msg,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=password,
            start_tls=smtp.starttls,
            use_tls=smtp.use_tls,
            timeout=self.settings.notify_timeout_s,
        )
        return True, None, None
