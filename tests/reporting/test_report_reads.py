"""What the report reads from the ledger (real PostgreSQL): only the kinds of event a story uses, and from them
the same report, byte for byte, as from every event of the month."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.db import create_pool
from libs.web import json_dumps
from services.reporting import store
from services.reporting.domain.ledger import LedgerEntry
from services.reporting.domain.period import Period
from services.reporting.domain.report import LedgerSlice, build
from services.reporting.domain.stories import STORY_TYPES, Event
from services.reporting.store.reads import _payload
from tests.reporting import month

OCTOBER = Period(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
# Events about the month's incidents that change no story: the report must not need them.
NOISE = [
    ("escalation.step_started", month.t(6, 10), {"incident_id": "A", "number": "OCTO-A", "step": 0, "tier": 1,
                                                 "at": month.iso(month.t(6, 10)), "notify": []}),
    ("incident.alert_added", month.t(9, 15, 5), {"incident_id": "B", "number": "OCTO-B", "alert_id": "x",
                                                 "at": month.iso(month.t(9, 15, 5))}),
    ("incident.in_progress", month.t(14, 9, 15), {"incident_id": "C", "number": "OCTO-C", "by": "eve",
                                                  "at": month.iso(month.t(14, 9, 15))}),
    ("incident.note_added", month.t(26, 10, 45), {"incident_id": "D", "number": "OCTO-D", "by": "eve",
                                                  "at": month.iso(month.t(26, 10, 45)), "note": "reopened: flapping"}),
]  # fmt: skip


async def test_the_report_read_from_the_ledger_equals_the_report_of_every_event(settings, start):
    await start("reporting", settings)  # applies the migrations
    events = sorted(month.all_events() + NOISE, key=lambda e: e[1])
    entries = [
        LedgerEntry(f"e{i:03}", "octo", kind, data.get("incident_id"), at, None, data)
        for i, (kind, at, data) in enumerate(events)
    ]
    pool = await create_pool(settings.database_url, schema="reporting")
    try:
        async with pool.acquire() as conn:
            await store.append(conn, entries=entries)
            read = await store.ledger_slice(conn, tenant="octo", start=OCTOBER.start, end=OCTOBER.end, downtime=["P1"])
    finally:
        await pool.close()
    # Every event of a kind a story uses of the incidents selected (not November's G), in recording order.
    selected = {e.data["incident_id"] for e in read.incident_events}
    assert selected == {"A", "B", "C", "D", "E", "F"}
    assert [e.event_id for e in read.incident_events] == [
        x.event_id for x in entries if x.data.get("incident_id") in selected and x.type in STORY_TYPES
    ]
    # The report as it was computed before the ledger read was narrowed: from every incident event, in order.
    every = [Event(kind, data, at) for kind, at, data in events]
    whole = LedgerSlice(
        [e for e in every if "incident_id" in e.data and not e.type.startswith("change.")],
        [e for e in every if e.type.startswith("change.")],
        read.ledger_events,
        read.signal_events,
    )
    assert json_dumps(build(month.TENANT, OCTOBER, read)) == json_dumps(build(month.TENANT, OCTOBER, whole))


def test_a_payload_orjson_refuses_is_decoded_as_the_standard_library_decodes_it():
    # jsonb keeps numbers past 64 bits and past a double's range; orjson refuses both, json reads them.
    assert _payload('{"n": 123456789012345678901234567890, "x": 1e400}') == {
        "n": 123456789012345678901234567890,
        "x": float("inf"),
    }
    assert _payload('{"incident_id": "A", "n": 1.5}') == {"incident_id": "A", "n": 1.5}
