"""Intake's other front door: an SMTP listener (aiosmtpd) for the tools and people that send e-mail (docs/email.md).

The same promise as the webhooks' 202: a mail is answered 250 only once JetStream stored its alert event, and
451 (try again later) when it could not be, so the sending MTA keeps it and retries; its retry has the same
Message-ID, so the same event id. An unknown address is refused at RCPT (550 5.1.1) before any data is sent,
a sender the tenant does not allow with 550 5.7.1, a mail over TIERLINE_SMTP_MAX_BYTES with 552.
"""

from __future__ import annotations

import asyncio
import weakref
from contextlib import AsyncExitStack, suppress
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from libs.config import IntegrationKey, MailRoute, RateLimit, TierlineConfig, route_for
from libs.errors import ApiError
from libs.events import utcnow
from libs.localstack import free_port
from libs.settings import Settings
from services.intake import events
from services.intake.api.accept import publish
from services.intake.api.gates import REJECTED, IntakeState
from services.intake.api.security import retry_after
from services.intake.domain.alert import to_alert
from services.intake.domain.mail import read_mail
from services.intake.domain.mail_alert import alert_id, mail_signal, sender_allowed

log = structlog.get_logger()
FORMAT = "email"
MAX_RECIPIENTS = 20
ADDRESS_RATE = RateLimit()  # per address that is not an integration key's (those use the key's own limit)


def _route(config: TierlineConfig, address: str) -> MailRoute | None:
    mail = config.provider.mail
    return route_for(config.mail_routes, mail.domain, address) if mail else None


def _key(config: TierlineConfig, route: MailRoute) -> IntegrationKey | None:
    tenant = config.tenant(route.tenant)
    return next((k for k in tenant.integration_keys if k.name == route.integration), None) if tenant else None


def _refused(reply: str, **why: Any) -> str:
    REJECTED.labels(FORMAT, reply[:3]).inc()
    log.info("intake.mail_refused", reply=reply, **why)
    return reply


class MailDesk:
    """The aiosmtpd handler. It takes the live config at each step (RCPT, DATA), never a copy of its own."""

    def __init__(self, state: IntakeState) -> None:
        self.state = state

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, _: list[str]) -> str:
        config = self.state.live.config()
        route = _route(config, address)
        if route is None:
            return _refused(f"550 5.1.1 <{address}>: no such address here", address=address)
        tenant = config.tenant(route.tenant)
        sender = envelope.mail_from or ""
        if tenant is None or tenant.mail is None or not sender_allowed(tenant.mail.allowed_senders, sender):
            return _refused(f"550 5.7.1 <{address}>: {sender or 'this sender'} may not send here", sender=sender)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return _refused("452 4.5.3 too many recipients; send the rest in another transaction")
        key = _key(config, route)
        bucket, limit = (key.key_sha256, key.rate_limit) if key else (f"mail:{route.local_part}", ADDRESS_RATE)
        if wait := self.state.limiter.take(bucket, limit):
            return _refused(f"451 4.7.0 too many mails for this address; retry in {retry_after(wait)} s")
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        config, raw, now = self.state.live.config(), envelope.original_content or b"", utcnow()
        mail = read_mail(raw)
        envs = []
        for address in dict.fromkeys(a.lower() for a in envelope.rcpt_tos):
            route, tenant = _route(config, address), None
            if route is None or (tenant := config.tenant(route.tenant)) is None or tenant.mail is None:
                continue  # the address went away with a new config since RCPT
            aid, key = alert_id(route, mail, raw), _key(config, route)
            signal, changed = mail_signal(route, tenant.mail.rules, mail, recipient=address, alert_id=aid)
            alert = to_alert(signal, alert_id=aid, integration=route.integration or route.local_part,
                             bound_ci=key.ci if key else None, received_at=now, sanitized=changed)  # fmt: skip
            envs.append(events.alert_received(alert, tenant=tenant.id, correlation_id=None))
        if not envs:
            return _refused("554 5.1.1 none of the recipients is an address here any more")
        try:
            await publish(self.state, envs, FORMAT)
        except ApiError as err:  # not stored (NATS unusable) or triage too far behind: the MTA keeps it and retries
            return _refused(f"451 4.3.0 {err.message}", code=err.code, message_id=mail.message_id)
        ids = [e.id for e in envs]
        log.info("intake.accepted", format=FORMAT, alerts=len(ids), message_id=mail.message_id, alert_ids=ids)
        return f"250 2.0.0 stored as {' '.join(ids)}"

    async def handle_exception(self, error: Exception) -> str:
        # Whatever went wrong is ours, not the sender's: a temporary failure keeps the mail in its queue.
        log.exception("intake.mail_failed", error=repr(error))
        return "451 4.3.0 temporary failure; try again later"


class Listener(SMTP):
    """aiosmtpd's SMTP session, with lines as long as the size limit allows (some tools send 2,000-character
    lines; RFC 5321's 1,000 would refuse their mail for good)."""

    def __init__(self, desk: MailDesk, *, max_bytes: int, hostname: str) -> None:
        self.line_length_limit = max_bytes + 2  # read by SMTP.__init__: the stream reader's buffer
        loop = asyncio.get_running_loop()
        super().__init__(desk, data_size_limit=max_bytes, enable_SMTPUTF8=True, hostname=hostname,
                         ident="Tierline intake", loop=loop)  # fmt: skip


async def start_smtp(stack: AsyncExitStack, state: IntakeState, settings: Settings) -> None:
    """Listen on TIERLINE_SMTP_HOST:TIERLINE_SMTP_PORT (0: not at all) until the service stops."""
    if not settings.smtp_port:
        return
    desk, sessions = MailDesk(state), weakref.WeakSet[Listener]()
    mail = state.live.config().provider.mail
    hostname = mail.domain if mail else "tierline-intake"  # given, so aiosmtpd never waits on a DNS lookup

    def session() -> Listener:
        listener = Listener(desk, max_bytes=settings.smtp_max_bytes, hostname=hostname)
        sessions.add(listener)
        return listener

    server = await asyncio.get_running_loop().create_server(
        session, settings.smtp_host, settings.smtp_port, reuse_address=True
    )

    async def close() -> None:
        server.close()
        for s in list(sessions):  # end open sessions too, or their tasks outlive the service
            if s.transport is not None:
                s.transport.close()
        with suppress(TimeoutError):
            async with asyncio.timeout(5):
                await server.wait_closed()

    stack.push_async_callback(close)
    log.info("intake.smtp_listening", host=settings.smtp_host, port=settings.smtp_port, domain=hostname)


def smtp_for_up(settings: Settings) -> dict[str, str]:
    """`tierline up`'s SMTP port for intake: TIERLINE_SMTP_PORT if set, else a free one (printed in its banner)."""
    return {"smtp_port": str(settings.smtp_port or free_port()), "smtp_host": settings.smtp_host}
