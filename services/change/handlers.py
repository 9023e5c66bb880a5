"""Change's event handlers: incidents on changed CIs become suspected-cause links; tools' change signals
become unmanaged changes on the calendar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import ChangeSignalReceived, IncidentOpened, parse
from libs.events import Envelope, utcnow
from services.change import store
from services.change.domain.changes import IncidentLink, outcome_of
from services.change.events import link_event, unmanaged_link_event, unmanaged_recorded_event

log = structlog.get_logger()


async def on_incidents_opened(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    """Link each new incident to every change on its CI that was being implemented, or ended within the
    tenant's incident_link_window, when it opened (a P1/P2 link turns the change's outcome to failed), and to
    every change a tool reported on the CI within that window before. Two queries for the whole batch: most
    incidents follow no change, and this runs for every incident opened."""
    opened: list[tuple[Envelope, IncidentOpened]] = []
    probes = []
    for env in envs:
        o = parse(env)
        assert isinstance(o, IncidentOpened)
        tenant = config.tenant(env.tenant)
        if tenant is None or o.ci is None:
            continue
        opened.append((env, o))
        probes.append((tenant.id, o.ci, o.opened_at, tenant.changes.incident_link_window.total_seconds()))
    await store.remember_incidents(
        conn, incidents=[(env.tenant, o.incident_id, o.number, o.priority, o.ci, o.opened_at) for env, o in opened]
    )
    raised: list[Envelope] = []
    now = utcnow()
    for i, change in await store.suspects(conn, probes=probes):
        env, o = opened[i]
        link = IncidentLink(o.incident_id, o.number, o.priority, o.ci, o.opened_at, linked_at=now)
        if not await store.add_link(conn, change_id=change.id, link=link):
            continue  # a replay
        change.outcome = outcome_of(change, await store.links(conn, change_id=change.id))
        await store.save_change(conn, change=change)
        raised.append(link_event(change, link, at=now, cause=env))
        log.info("change.incident_linked", number=change.number, incident=o.number, priority=o.priority)
    for i, u in await store.unmanaged_suspects(conn, probes=probes):
        env, o = opened[i]
        incident = {"incident_id": o.incident_id, "incident_number": o.number, "priority": o.priority,
                    "opened_at": o.opened_at}  # fmt: skip
        raised += await link_unmanaged(conn, env, u, incident, now)
    return raised


async def link_unmanaged(
    conn: asyncpg.Connection, cause: Envelope, u: Mapping[str, Any], incident: dict[str, Any], now: datetime
) -> list[Envelope]:
    """Link an incident to a change a tool reported on its CI shortly before it opened (once per pair, whichever
    of the two arrived last)."""
    if not await store.add_unmanaged_link(
        conn, tenant=cause.tenant, signal_id=u["signal_id"], incident=incident, linked_at=now
    ):
        return []  # a replay
    log.info("change.unmanaged_linked", signal_id=u["signal_id"], incident=incident["incident_number"])
    return [unmanaged_link_event(cause.tenant, u, incident, at=now, cause=cause)]


async def on_change_received(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """Record a tool-reported change on the tenant's calendar, once per signal id, and link the incidents that
    already opened on its CI within the link window after it (the tool reported it late)."""
    signal = parse(env)
    assert isinstance(signal, ChangeSignalReceived)
    tenant = config.tenant(env.tenant)
    if tenant is None:
        log.warning("change.unknown_tenant", tenant=env.tenant, event_id=env.id)
        return []
    at = signal.timestamp or signal.received_at
    row = signal.model_dump() | {"at": at}
    if not await store.record_unmanaged(conn, tenant=env.tenant, row=row):
        return []
    raised: list[Envelope] = []
    if signal.ci is not None:
        now = utcnow()
        window = tenant.changes.incident_link_window
        for incident in await store.incidents_after(conn, tenant=env.tenant, ci=signal.ci, at=at, window=window):
            raised += await link_unmanaged(conn, env, row, incident, now)
    recorded = unmanaged_recorded_event(env.tenant, row, cause=env)
    return [recorded, *raised]


def make_apply(config: TierlineConfig) -> Callable[[asyncpg.Connection, list[Envelope]], Awaitable[list[Envelope]]]:
    async def apply(conn: asyncpg.Connection, envs: list[Envelope]) -> list[Envelope]:
        """In stream order; each run of consecutive incident.opened is handled in bulk. The CIs the batch
        touches are locked first, so a change event and an incident handled by two replicas at once still meet."""
        await store.lock_cis(conn, keys=list({(e.tenant, e.data["ci"]) for e in envs if e.data.get("ci")}))
        raised: list[Envelope] = []
        openings: list[Envelope] = []
        for env in envs:
            if env.short_type == "incident.opened":
                openings.append(env)
                continue
            raised += await on_incidents_opened(conn, openings, config)
            openings = []
            raised += await on_change_received(conn, env, config)
        return raised + await on_incidents_opened(conn, openings, config)

    return apply


# What change consumes (the consumer's subject filters are built from these).
HANDLERS = ["incident.opened", "intake.change_received"]
