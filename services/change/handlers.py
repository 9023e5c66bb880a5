"""Change's event handlers: incidents on changed CIs become suspected-cause links; tools' change signals
become unmanaged changes on the calendar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import structlog

from libs.config import TierlineConfig
from libs.contracts import ChangeSignalReceived, IncidentOpened, parse
from libs.events import Envelope, utcnow
from services.change import store
from services.change.domain.changes import ChangeRequest, IncidentLink, outcome_of
from services.change.domain.unmanaged import OpenedIncident, UnmanagedChange
from services.change.events import link_event, unmanaged_link_event, unmanaged_recorded_event
from services.change.store.rows import Probe

log = structlog.get_logger()


async def on_incidents_opened(conn: asyncpg.Connection, envs: list[Envelope], config: TierlineConfig) -> list[Envelope]:
    """Link each new incident to every change on its CI that was being implemented, or ended within the
    tenant's incident_link_window, when it opened (a P1/P2 link turns the change's outcome to failed), and to
    every change a tool reported on the CI within that window before. Two queries for the whole batch: most
    incidents follow no change, and this runs for every incident opened."""
    causes: list[Envelope] = []
    probes: list[Probe] = []
    for env in envs:
        o = parse(env)
        assert isinstance(o, IncidentOpened)
        tenant = config.tenant(env.tenant)
        if tenant is None or o.ci is None:
            continue
        seen = OpenedIncident(env.tenant, o.incident_id, o.number, o.priority, o.ci, o.opened_at)
        causes.append(env)
        probes.append(Probe(seen, tenant.changes.incident_link_window))
    await store.remember_incidents(conn, incidents=[p.incident for p in probes])
    raised: list[Envelope] = []
    now = utcnow()
    for cause, probe, changes in zip(causes, probes, await store.suspects(conn, probes=probes), strict=True):
        for change in changes:
            raised += await link_managed(conn, cause, change, probe.incident, now)
    for cause, probe, reported in zip(causes, probes, await store.unmanaged_suspects(conn, probes=probes), strict=True):
        for u in reported:
            raised += await link_unmanaged(conn, cause, u, probe.incident, now)
    return raised


async def link_managed(
    conn: asyncpg.Connection, cause: Envelope, change: ChangeRequest, incident: OpenedIncident, now: datetime
) -> list[Envelope]:
    """Link an incident to a change at work on its CI when it opened; the link may turn its outcome to failed."""
    link = IncidentLink(incident.incident_id, incident.incident_number, incident.priority, incident.ci,
                        incident.opened_at, linked_at=now)  # fmt: skip
    if not await store.add_link(conn, change_id=change.id, link=link):
        return []  # a replay
    change.outcome = outcome_of(change, await store.links(conn, change_id=change.id))
    await store.save_change(conn, change=change)
    log.info("change.incident_linked", number=change.number, incident=incident.incident_number,
             priority=incident.priority)  # fmt: skip
    return [link_event(change, link, at=now, cause=cause)]


async def link_unmanaged(
    conn: asyncpg.Connection, cause: Envelope, change: UnmanagedChange, incident: OpenedIncident, now: datetime
) -> list[Envelope]:
    """Link an incident to a change a tool reported on its CI shortly before it opened (once per pair, whichever
    of the two arrived last)."""
    if not await store.add_unmanaged_link(conn, change=change, incident=incident, linked_at=now):
        return []  # a replay
    log.info("change.unmanaged_linked", signal_id=change.signal_id, incident=incident.incident_number)
    return [unmanaged_link_event(change, incident, at=now, cause=cause)]


async def on_change_received(conn: asyncpg.Connection, env: Envelope, config: TierlineConfig) -> list[Envelope]:
    """Record a tool-reported change on the tenant's calendar, once per signal id, and link the incidents that
    already opened on its CI within the link window after it (the tool reported it late)."""
    signal = parse(env)
    assert isinstance(signal, ChangeSignalReceived)
    tenant = config.tenant(env.tenant)
    if tenant is None:
        log.warning("change.unknown_tenant", tenant=env.tenant, event_id=env.id)
        return []
    change = UnmanagedChange(
        tenant=env.tenant,
        signal_id=signal.signal_id,
        source=signal.source,
        integration=signal.integration,
        summary=signal.summary,
        ci=signal.ci,
        at=signal.timestamp or signal.received_at,
        received_at=signal.received_at,
        custom_details=signal.custom_details,
        links=signal.links,
    )
    if not await store.record_unmanaged(conn, change=change):
        return []
    raised: list[Envelope] = []
    if change.ci is not None:
        now = utcnow()
        window = tenant.changes.incident_link_window
        for incident in await store.incidents_after(conn, tenant=env.tenant, ci=change.ci, at=change.at, window=window):
            raised += await link_unmanaged(conn, env, change, incident, now)
    return [unmanaged_recorded_event(change, cause=env), *raised]


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
