"""Triage's batch handler against a real PostgreSQL: one batch, many alerts, each with its own outcome."""

from __future__ import annotations

from pathlib import Path

from libs.contracts import AlertReceived
from libs.db import create_pool, migrate
from libs.events import new_id, raise_event, utcnow
from libs.testing import run_handler
from services.triage.handlers import on_alerts_received

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "triage" / "migrations"


def alert(key: str, status: str = "firing"):
    payload = AlertReceived(
        alert_id=new_id(), source="test", integration="prometheus", dedup_key=key, status=status,
        severity="error", summary=f"{key} broken", ci="erp-db", received_at=utcnow(),
    )  # fmt: skip
    return raise_event("alert.received", payload, source="intake", tenant="acme")


async def test_one_batch_opens_counts_and_resolves_in_order(settings, config):
    pool = await create_pool(settings.database_url, schema="triage")
    try:
        await migrate(pool, schema="triage", migrations=MIGRATIONS)
        batch = [alert("a"), alert("a"), alert("b"), alert("a"), alert("a", "resolved"), alert("c", "resolved")]
        async with pool.acquire() as conn, conn.transaction():
            raised = await run_handler(on_alerts_received, conn, batch, config)
        kinds = [(e.short_type, e.data.get("number"), e.data.get("occurrences")) for e in raised]
        assert kinds == [
            ("incident.opened", "ACME-1", None),
            ("incident.alert_added", "ACME-1", 2),  # each repeat's own count, not the batch's final one
            ("incident.opened", "ACME-2", None),
            ("incident.alert_added", "ACME-1", 3),
            ("incident.resolved", "ACME-1", None),
        ]  # the resolve for "c", which never fired, changes nothing
        rows = await pool.fetch("SELECT effect FROM incident_alerts ORDER BY received_at")
        assert [r["effect"] for r in rows] == ["opened", "alert_added", "opened", "alert_added", "resolved",
                                              "resolve_ignored"]  # fmt: skip
        states = {r["dedup_key"]: r["state"] for r in await pool.fetch("SELECT dedup_key, state FROM incidents")}
        assert states == {"a": "resolved", "b": "new"}
    finally:
        await pool.close()
