"""Change's event handlers: incidents on changed CIs become suspected-cause links; tools' change signals
become unmanaged changes on the calendar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import ChangeSignalReceived, IncidentOpened, UnmanagedChangeLinked, UnmanagedChangeRecorded, parse
from libs.events import Envelope, raise_event, utcnow
from services.change import store
from services.change.domain import IncidentLink, outcome_of
from services.change.events import SOURCE, link_event

log = structlog.get_logger()
Handler = Callable[[asyncpg.Connection, Envelope, TierlineConfig], Awaitable[list[Envelope]]]


async def on_incident_opened(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """Link the incident to every change on its CI that was being implemented, or ended within the tenant's
    incident_link_window, when it opened. A P1/P2 link turns the change's outcome to failed."""
    opened = parse(env)
    assert isinstance(opened, IncidentOpened)
    tenant = config.tenant(env.tenant)
    if tenant is None or opened.ci is None:
        return []
    window = tenant.changes.incident_link_window
    raised: list[Envelope] = []
    now = utcnow()
    for change in await store.suspects(conn, tenant=tenant.id, ci=opened.ci, opened_at=opened.opened_at, window=window):
        link = IncidentLink(
            opened.incident_id, opened.number, opened.priority, opened.ci, opened.opened_at, linked_at=now
        )
        if not await store.add_link(conn, change_id=change.id, link=link):
            continue
        change.outcome = outcome_of(change, await store.links(conn, change_id=change.id))
        await store.save_change(conn, change=change)
        raised.append(link_event(change, link, at=now, cause=env))
        log.info("change.incident_linked", number=change.number, incident=opened.number, priority=opened.priority)
    return raised + await link_unmanaged(conn, env, opened, window, now)


async def link_unmanaged(
    conn: asyncpg.Connection, env: Envelope, opened: IncidentOpened, window: timedelta, now: datetime
) -> list[Envelope]:
    """Link the incident to every change a tool reported on its CI within the window before it opened."""
    assert opened.ci is not None
    incident = {"incident_id": opened.incident_id, "incident_number": opened.number, "priority": opened.priority,
                "opened_at": opened.opened_at}  # fmt: skip
    raised = []
    for u in await store.unmanaged_suspects(
        conn, tenant=env.tenant, ci=opened.ci, opened_at=opened.opened_at, window=window
    ):
        if not await store.add_unmanaged_link(
            conn, tenant=env.tenant, signal_id=u["signal_id"], incident=incident, linked_at=now
        ):
            continue
        payload = UnmanagedChangeLinked(
            signal_id=u["signal_id"], source=u["source"], summary=u["summary"], ci=u["ci"], changed_at=u["at"],
            **incident, at=now,
        )  # fmt: skip
        subject = u["signal_id"]
        raised.append(
            raise_event(
                "change.unmanaged_linked", payload, source=SOURCE, tenant=env.tenant, subject=subject, cause=env
            )
        )
        log.info("change.unmanaged_linked", signal_id=u["signal_id"], incident=opened.number)
    return raised


async def on_change_received(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """Record a tool-reported change on the tenant's calendar, once per signal id."""
    signal = parse(env)
    assert isinstance(signal, ChangeSignalReceived)
    if config.tenant(env.tenant) is None:
        log.warning("change.unknown_tenant", tenant=env.tenant, event_id=env.id)
        return []
    at = signal.timestamp or signal.received_at
    row = signal.model_dump() | {"at": at}
    if not await store.record_unmanaged(conn, tenant=env.tenant, row=row):
        return []
    payload = UnmanagedChangeRecorded(
        signal_id=signal.signal_id,
        source=signal.source,
        integration=signal.integration,
        summary=signal.summary,
        ci=signal.ci,
        at=at,
    )
    return [raise_event("change.unmanaged_recorded", payload, source=SOURCE, tenant=env.tenant, cause=env)]


def make_apply(config: TierlineConfig) -> Callable[[asyncpg.Connection, list[Envelope]], Awaitable[list[Envelope]]]:
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        raised: list[Envelope] = []
        for env in envs:
            raised += await HANDLERS[env.short_type](conn, env, config)
        return raised

    return apply


HANDLERS: dict[str, Handler] = {
    "incident.opened": on_incident_opened,
    "intake.change_received": on_change_received,
}
