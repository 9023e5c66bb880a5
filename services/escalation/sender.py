"""The notification sender: claims due deliveries (one replica each), sends them, records every attempt.

A failed attempt is retried with exponential backoff; after the last one the row stays as the dead-letter
record (status `dead`) and a `notification.dead_lettered` event says so. A process dying mid-send leaves
the row leased, so after the lease another replica sends it again: receivers dedupe on Tierline-Delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg
import structlog
from prometheus_client import Counter

from libs.config import NotificationTarget, TierlineConfig
from libs.contracts import NotificationOutcome
from libs.events import raise_event
from libs.outbox import Outbox, stage
from libs.settings import Settings
from libs.timer import Polled, Poller
from services.escalation import store
from services.escalation.notify import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, retry_delay, sign

log = structlog.get_logger()
ATTEMPTS = Counter("tierline_notification_attempts_total", "Notification attempts", ["kind", "outcome"])
Result = tuple[bool, int | None, str | None]  # ok, HTTP status, error


class NotificationSender(Polled):
    def __init__(
        self, pool: asyncpg.Pool, outbox: Outbox, config: TierlineConfig, settings: Settings, *, batch: int = 50
    ) -> None:
        self.pool, self.outbox, self.config, self.settings, self.batch = pool, outbox, config, settings, batch
        self.lease_s = settings.notify_timeout_s * 3 + 5  # far longer than one send can take
        self.poller = Poller("notification-sender", self.send_due, poll_s=settings.timer_poll_s, batch=batch)
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.notify_timeout_s))
        await self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        if self.http:
            await self.http.close()

    async def send_due(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_deliveries(conn, limit=self.batch, lease_s=self.lease_s)
        if not rows:
            return 0
        started = time.perf_counter()
        results = await asyncio.gather(*(self._attempt(r) for r in rows))
        events = []
        async with self.pool.acquire() as conn, conn.transaction():
            for row, (result, ms) in zip(rows, results, strict=True):
                events += await self._record(conn, row, result, ms)
            await stage(conn, self.outbox.bus, events)
        if events:
            self.outbox.kick()
        log.debug("notifications.sent", count=len(rows), seconds=round(time.perf_counter() - started, 3))
        return len(rows)

    async def _attempt(self, row: asyncpg.Record) -> tuple[Result, float]:
        t0 = time.perf_counter()
        try:
            result = await self._send(row)
        except Exception as exc:  # the target is down, slow or refuses: recorded, retried later
            result = (False, None, f"{type(exc).__name__}: {exc}"[:500])
        return result, (time.perf_counter() - t0) * 1000

    def _target(self, row: asyncpg.Record) -> NotificationTarget | None:
        tenant = self.config.tenant(row["tenant"])
        found = [t for t in tenant.notifications.targets if t.name == row["target"]] if tenant else []
        return found[0] if found else None

    async def _send(self, row: asyncpg.Record) -> Result:
        target = self._target(row)
        if target is None:
            return False, None, f"target {row['target']!r} is no longer configured"
        body = row["body"].encode()
        if target.kind == "email":
            return await self._mail(target, json.loads(body))
        headers = {"Content-Type": "application/json", "User-Agent": "Tierline", DELIVERY_HEADER: str(row["id"])}
        if target.kind == "webhook":
            secret = os.environ.get(target.secret_env, "") if target.secret_env else target.secret or ""
            if not secret:
                return False, None, f"signing secret not set (environment variable {target.secret_env})"
            ts = int(time.time())
            headers |= {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}
        assert self.http is not None and target.url
        async with self.http.post(target.url, data=body, headers=headers) as resp:
            await resp.read()
            ok = 200 <= resp.status < 300
            return ok, resp.status, None if ok else f"HTTP {resp.status}"

    async def _mail(self, target: NotificationTarget, body: dict[str, Any]) -> Result:
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

    async def _record(self, conn: asyncpg.Connection, row: asyncpg.Record, result: Result, ms: float) -> list[Any]:
        ok, code, error = result
        now = datetime.now(UTC)
        attempt = row["attempts"]
        if ok:
            status, next_at = "delivered", now
        elif attempt >= self.settings.notify_max_attempts:
            status, next_at = "dead", now
        else:
            status = "pending"
            next_at = now + timedelta(seconds=retry_delay(attempt, base_s=self.settings.notify_backoff_s))
        ATTEMPTS.labels(row["kind"], "ok" if ok else "failed").inc()
        await store.record_attempt(
            conn,
            notification_id=row["id"],
            attempt=attempt,
            at=now,
            ok=ok,
            status_code=code,
            error=error,
            duration_ms=ms,
            status=status,
            next_attempt_at=next_at,
        )
        if status == "pending":
            log.info("notification.retry", target=row["target"], attempt=attempt, error=error, next_at=next_at)
            return []
        if status == "dead":
            log.error("notification.dead_lettered", target=row["target"], attempts=attempt, error=error)
        payload = NotificationOutcome(
            incident_id=str(row["incident_id"]),
            number=row["number"],
            notification_id=str(row["id"]),
            target=row["target"],
            kind=row["kind"],
            trigger=row["trigger"],
            attempts=attempt,
            status=status,
            last_error=error,
            at=now,
        )
        kind = "notification.delivered" if ok else "notification.dead_lettered"
        return [raise_event(kind, payload, source="escalation", tenant=row["tenant"], subject=payload.incident_id)]
