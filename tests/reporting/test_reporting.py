"""Events on the bus become ledger rows and report figures (real NATS, real PostgreSQL)."""

from __future__ import annotations

from libs.bus import connect_bus, dead_letter_subject
from libs.db import create_pool
from libs.events import Envelope
from libs.uow import Tx
from services.reporting import handlers
from tests.conftest import auth, eventually
from tests.events import Incident, alert, change, utc

MARCH = {"from": "2024-03-01", "to": "2024-04-01"}


async def record(pool, envs: list[Envelope]) -> None:
    """The ledger sink on one batch in one transaction, as the consumer runs it."""
    async with pool.acquire() as conn, conn.transaction():
        await handlers.record(Tx(conn), envs, None)


def scenario() -> tuple[list[Envelope], Envelope]:
    """Acme: A and B opened in March, C in February, E on 1 April; globex: G. Returns (events, A opened)."""
    a = Incident("acme-a", "P1", utc(2024, 3, 1))  # exactly on `from`: inside
    b = Incident("acme-b", "P2", utc(2024, 3, 20, 8))
    c = Incident("acme-c", "P3", utc(2024, 2, 29, 23))
    e = Incident("acme-e", "P3", utc(2024, 4, 1))  # exactly on `to`: outside
    g = Incident("globex-g", "P1", utc(2024, 3, 15, 9), tenant="globex")
    a_opened = a.opened()
    events = [
        a_opened,
        a.acknowledged(60),
        a.clock_stopped("response", 60, met=True),
        a.resolved(600),
        a.clock_stopped("resolution", 600, met=True),
        b.opened(),
        b.breached("response", 3),
        b.clock_stopped("response", 300, met=False),
        c.opened(),
        c.acknowledged(5400),
        c.breached("resolution", 7200),  # acked and breached in March
        e.opened(),
        alert(utc(2024, 3, 10)),
        change("change.approved", utc(2024, 3, 5)),
        change("change.rejected", utc(2024, 4, 2), change_id="chg-2"),
        g.opened(),
        g.breached("response", 1860),
        change("change.rejected", utc(2024, 3, 20), "globex", "chg-9"),
    ]
    return events, a_opened


def sla(figures: dict) -> dict:
    return {k: figures[k] for k in ("met", "breached", "compliance_pct")}


async def get(http, url, token="admin-token", **params):
    async with http.get(url, params=params, headers=auth(token) if token else {}) as r:
        return r.status, await r.json()


async def ledger_size(http, svc, tenant, size):
    async def check():
        status, body = await get(http, f"{svc.url}/v1/ledger/{tenant}", limit="500")
        return body["items"] if status == 200 and len(body["items"]) >= size else None

    return await eventually(check)


async def test_report_figures_come_from_the_ledger(settings, start, http):
    svc = await start("reporting", settings)
    bus = await connect_bus(settings, name="test")
    events, a_opened = scenario()
    try:
        for env in events:
            await bus.publish(env)
        # The same event again under another Nats-Msg-Id, so JetStream's duplicate window cannot drop it.
        await bus.js.publish(bus.subject_of(a_opened), a_opened.encode(), headers={"Nats-Msg-Id": a_opened.id + "-r"})
        await eventually(lambda: _lag_is_zero(bus))
    finally:
        await bus.close()
    acme_rows = await ledger_size(http, svc, "acme", 15)
    assert len(acme_rows) == 15
    assert [r["event_id"] for r in acme_rows].count(a_opened.id) == 1
    assert {r["type"] for r in acme_rows} >= {
        "incident.opened",
        "alert.received",
        "sla.breached",
        "change.approved",
    }

    status, report = await get(http, f"{svc.url}/v1/reports/acme", **MARCH)
    assert status == 200, report
    assert report["tenant"] == "acme"
    assert report["period"] == {"from": "2024-03-01T00:00:00+00:00", "to": "2024-04-01T00:00:00+00:00"}
    assert report["incidents"] == 2
    assert report["by_priority"] == {"P1": 1, "P2": 1, "P3": 0, "P4": 0, "P5": 0}
    assert report["mtta_seconds"] == 60.0
    assert report["mttr_seconds"] == 600.0
    assert sla(report["response_sla"]) == {"met": 1, "breached": 1, "compliance_pct": 50.0}
    assert sla(report["resolution_sla"]) == {"met": 1, "breached": 0, "compliance_pct": 100.0}
    assert report["response_sla"]["by_priority"]["P2"] == {"met": 0, "breached": 1, "compliance_pct": 0.0}
    assert report["breaches"] == [
        {
            "incident_id": "acme-c",
            "number": "ACME-C",
            "clock": "resolution",
            "priority": "P3",
            "due_at": "2024-03-01T01:00:00+00:00",
            "breached_at": "2024-03-01T01:00:00+00:00",
        },
        {
            "incident_id": "acme-b",
            "number": "ACME-B",
            "clock": "response",
            "priority": "P2",
            "due_at": "2024-03-20T08:00:03+00:00",
            "breached_at": "2024-03-20T08:00:03+00:00",
        },
    ]
    assert (report["changes"]["approved"], report["changes"]["rejected"]) == (1, 0)
    assert report["ledger_events"] == 12
    assert report["generated_at"]

    status, globex = await get(http, f"{svc.url}/v1/reports/globex", **MARCH)
    assert status == 200
    assert (globex["incidents"], globex["by_priority"]["P1"], globex["mtta_seconds"]) == (1, 1, None)
    assert sla(globex["response_sla"]) == {"met": 0, "breached": 1, "compliance_pct": 0.0}
    assert sla(globex["resolution_sla"]) == {"met": 0, "breached": 0, "compliance_pct": None}
    assert (globex["changes"]["approved"], globex["changes"]["rejected"]) == (0, 1)
    assert [b["incident_id"] for b in globex["breaches"]] == ["globex-g"]
    assert globex["ledger_events"] == 3


async def _lag_is_zero(bus) -> bool:
    try:
        return await bus.lag("reporting") == 0
    except Exception:  # the consumer is created when the service starts; tolerate a slow start
        return False


async def test_an_event_is_recorded_once_however_often_it_arrives(settings, start):
    await start("reporting", settings)  # applies the migrations
    events, a_opened = scenario()
    pool = await create_pool(settings.database_url, schema="reporting")
    try:
        await record(pool, [a_opened, a_opened, events[1]])  # a batch holding a redelivered copy
        await record(pool, [a_opened])  # a later redelivery
        # (the service's own first start recorded its config.applied too: not this test's)
        rows = await pool.fetch("SELECT event_id, type FROM ledger WHERE type <> 'config.applied' ORDER BY seq")
    finally:
        await pool.close()
    assert [(r["event_id"], r["type"]) for r in rows] == [
        (a_opened.id, "incident.opened"),
        (events[1].id, "incident.acknowledged"),
    ]


async def test_a_payload_breaking_its_contract_is_dead_lettered_not_recorded(settings, start, http):
    svc = await start("reporting", settings)
    bad = Envelope(
        source="test",
        type="tierline.incident.opened",
        tenant="acme",
        correlationid="c",
        data={"incident_id": "x", "opened_at": "not a time"},
    )
    good = change("change.approved", utc(2024, 3, 5))
    bus = await connect_bus(settings, name="test")
    try:
        await bus.publish(bad)
        await bus.publish(good)
        dead = await eventually(lambda: _dead_letter(bus, bus.subject_of(bad)))
    finally:
        await bus.close()
    assert dead.headers["Tierline-Consumer"] == "reporting"
    assert "opened_at" in dead.headers["Tierline-Error"]
    rows = await ledger_size(http, svc, "acme", 1)
    assert [r["event_id"] for r in rows] == [good.id]
    status, report = await get(http, f"{svc.url}/v1/reports/acme", **MARCH)
    assert (status, report["changes"]["approved"], report["incidents"]) == (200, 1, 0)


async def _dead_letter(bus, subject: str):
    try:
        return await bus.js.get_last_msg(bus.dead_letter_stream, dead_letter_subject(bus, "reporting", subject))
    except Exception:
        return None
