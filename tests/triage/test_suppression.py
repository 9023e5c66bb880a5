"""Suppression on the running stack: alerts on a CI under a change window in progress (published on the
bus as the change service does) or a maintenance window are recorded, attached, and page nobody."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from libs.bus import connect_bus
from libs.contracts import ChangeWindow
from libs.events import raise_event, utcnow
from tests.conftest import eventually
from tests.triage.stack import alert, call, detail, events, incidents, processed, settled


@pytest.fixture
async def stack(tsettings, start):
    return await start("intake", tsettings), await start("triage", tsettings)


async def publish_window(settings, kind: str, cis: list[str], tenant: str = "acme") -> None:
    now = utcnow()
    payload = ChangeWindow(
        change_id="c-1", number="CHG-1", title="Patch ERP", change_type="normal", cis=cis,
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1), at=now,
    )  # fmt: skip
    bus = await connect_bus(settings, name="change-probe")
    try:
        await bus.publish(raise_event(f"change.{kind}", payload, source="change", tenant=tenant))
    finally:
        await bus.close()


async def window_state(settings, tenant: str = "acme") -> str | None:
    """The tenant's copy of the change window in triage's tables: None, 'open' or 'ended'."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        ended = await conn.fetchval("SELECT ended_at IS NOT NULL FROM triage.change_windows WHERE tenant = $1", tenant)
    finally:
        await conn.close()
    return None if ended is None else ("ended" if ended else "open")


async def suppressed(http, triage, count: int, token: str = "admin-token") -> list[dict]:
    async def check():
        status, body = await call(http, "GET", f"{triage.url}/v1/alerts/suppressed", token)
        assert status == 200, body
        return body["items"] if len(body["items"]) == count else None

    return [] if count == 0 and not await check() else await eventually(check)


async def test_change_window_suppresses_then_ends(stack, http, tsettings):
    intake, triage = stack
    await alert(http, intake, dedup_key="before", service="erp-db")  # open before the change began
    await processed(http, triage, 1)
    await publish_window(tsettings, "window_started", ["erp-db"])
    await eventually(lambda: _is(tsettings, "open"))

    # Expected during the change: recorded with the change named, no new incident, nobody paged.
    await alert(http, intake, dedup_key="during", service="erp-db", severity="critical")
    await alert(http, intake, dedup_key="before", service="erp-db")
    await alert(http, intake, dedup_key="wifi", service="office-wifi")  # another CI: not under the change
    items = await suppressed(http, triage, 2)
    assert sorted((i["dedup_key"], i["note"]) for i in items) == [
        ("before", "expected during change CHG-1"), ("during", "expected during change CHG-1"),
    ]  # fmt: skip
    await processed(http, triage, 2)
    d = await settled(http, triage, "ACME-1", 2)
    assert d["changes"] == ["CHG-1"] and d["alerts"][-1]["effect"] == "suppressed"
    assert "change_linked" in [t["kind"] for t in d["timeline"]]
    opened = [e.data["dedup_key"] for e in await events(tsettings) if e.short_type == "incident.opened"]
    assert opened == ["before", "wifi"]
    assert await suppressed(http, triage, 0, token="globex-viewer-token") == []  # another tenant sees none

    await publish_window(tsettings, "window_ended", ["erp-db"])
    await eventually(lambda: _is(tsettings, "ended"))
    await alert(http, intake, dedup_key="during", service="erp-db", severity="critical")
    items = await processed(http, triage, 3)
    assert items[0]["dedup_key"] == "during" and items[0]["priority"] == "P1"


async def test_a_change_window_of_another_tenant_suppresses_nothing(stack, http, tsettings):
    intake, triage = stack
    await publish_window(tsettings, "window_started", ["erp-db"], tenant="globex")
    await eventually(lambda: _is(tsettings, "open", "globex"))
    await alert(http, intake, dedup_key="db", service="erp-db")
    await processed(http, triage, 1)


async def test_maintenance_window_from_config_suppresses(stack, http):
    intake, triage = stack  # acme's config: lab-printer under "lab rebuild" maintenance
    await alert(http, intake, dedup_key="toner", service="lab-printer")
    await alert(http, intake, dedup_key="db", service="erp-db")
    [item] = await suppressed(http, triage, 1)
    assert (item["dedup_key"], item["note"], item["incident_id"]) == ("toner", "expected during lab rebuild", None)
    assert [i["dedup_key"] for i in await processed(http, triage, 1)] == ["db"]
    await alert(http, intake, dedup_key="toner", service="lab-printer", status="resolved")
    await alert(http, intake, dedup_key="db2", service="erp-db")
    await processed(http, triage, 2)
    assert [i["dedup_key"] for i in await incidents(http, triage)] == ["db2", "db"]
    assert (await detail(http, triage, "ACME-1"))["state"] == "new"


async def _is(settings, state: str, tenant: str = "acme") -> bool:
    return await window_state(settings, tenant) == state
