"""The order in which change's subscriber table handles a batch: its openings first, in bulk, then the tools'
changes. The links it makes are the ones the same messages make handled one by one in the order they came
(what the service did before the table), whatever that order was."""

from __future__ import annotations

import itertools
from datetime import timedelta

import asyncpg
import pytest

from libs.contracts import ChangeSignalReceived
from libs.events import Envelope, utcnow
from libs.subscriptions import Dispatcher
from libs.uow import Tx
from services.change.handlers import SUBSCRIPTIONS, lock_cis
from tests.change.test_signals import implemented, incident
from tests.events import event


@pytest.fixture
async def svc(settings, start):
    return await start("change", settings)


def deploy(signal_id: str, at) -> Envelope:  # type: ignore[no-untyped-def]
    s = ChangeSignalReceived(signal_id=signal_id, source="argocd", integration="deploys", summary="deploy",
                             ci="erp-db", timestamp=at, received_at=at)  # fmt: skip
    return event("intake.change_received", s, at)


async def test_the_links_made_do_not_depend_on_the_order_in_which_a_batch_came(settings, svc, http, config):
    change = await implemented(http, svc)  # a change on erp-db, implemented just now
    at = utcnow()
    messages = [
        deploy("deploy-before", at),
        incident(41, "P1", at=at + timedelta(minutes=1)),  # after both changes: linked to both
        incident(42, "P2", at=at + timedelta(minutes=1), ci="office-wifi"),  # another CI: to neither
        deploy("deploy-after", at + timedelta(minutes=2)),  # after the incident: not its cause
    ]
    dispatch = Dispatcher(SUBSCRIPTIONS, lambda: config, before=lock_cis)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "change"})

    async def links_made(batches: list[list[Envelope]]) -> list[tuple[str, str, str]]:
        """The links the batches make handled one after the other, in a transaction rolled back after."""
        emitted: list[Envelope] = []
        tx = conn.transaction()
        await tx.start()
        try:
            for batch in batches:
                uow = Tx(conn)
                await dispatch(uow, batch)
                emitted += uow.events
        finally:
            await tx.rollback()
        return sorted(
            (e.short_type, e.data.get("signal_id") or e.data["number"], e.data["incident_number"])
            for e in emitted
            if e.short_type in ("change.incident_linked", "change.unmanaged_linked")
        )

    expected = [
        ("change.incident_linked", change["number"], "ACME-41"),
        ("change.unmanaged_linked", "deploy-before", "ACME-41"),
    ]
    try:
        for order in itertools.permutations(messages):
            assert await links_made([list(order)]) == expected, order  # one batch: the table's order
            assert await links_made([[m] for m in order]) == expected, order  # one by one: as they came
    finally:
        await conn.close()
