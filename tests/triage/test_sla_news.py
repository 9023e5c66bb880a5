"""What escalation says about an incident's SLA clocks, as triage keeps it: the clocks on the incident, the
warnings and the breach on its timeline (real escalation, real timers), each batch applied in two statements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from libs.contracts import (
    SlaBreached,
    SlaClockOpening,
    SlaClocksStarted,
    SlaClockStarted,
    SlaClockStopped,
    SlaWarning,
    each_clock_started,
)
from libs.db import create_pool, migrate
from libs.events import raise_event, utcnow
from libs.testing import run_handler
from services.triage.domain import sla
from services.triage.handlers import on_alerts_received, on_sla_events
from tests.conftest import eventually
from tests.triage.stack import call, detail
from tests.triage.test_handlers import alert

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "triage" / "migrations"


T = "2026-12-01T10:00:00+00:00"


def at(hour: int) -> str:
    return f"2026-12-01T{hour:02d}:00:00Z"


def test_the_fold_follows_each_clock_and_the_deadline_that_matters_now():
    clocks: dict = {}
    for clock, due in (("response", at(11)), ("resolution", at(14))):
        sla.apply(clocks, "sla.clock_started", {"clock": clock, "started_at": at(10), "due_at": due, "target_s": 1.0})
    assert sla.deadline(clocks) == "2026-12-01T11:00:00+00:00"  # unacknowledged: the response deadline
    sla.apply(clocks, "sla.clock_stopped", {"clock": "response", "met": True})
    assert (clocks["response"]["state"], sla.deadline(clocks)) == ("stopped", "2026-12-01T14:00:00+00:00")
    sla.apply(clocks, "sla.clock_paused", {"clock": "resolution", "paused_at": at(12)})
    assert (clocks["resolution"]["state"], sla.deadline(clocks)) == ("paused", None)
    sla.apply(clocks, "sla.clock_resumed", {"clock": "resolution", "due_at": at(15)})
    sla.apply(clocks, "sla.clock_retargeted", {"clock": "resolution", "due_at": at(13), "target_s": 2.0})
    assert (clocks["resolution"]["target_s"], sla.deadline(clocks)) == (2.0, "2026-12-01T13:00:00+00:00")
    assert sla.apply(clocks, "sla.breached", {"clock": "resolution", "breached_at": at(13), "late": False}) == (
        "sla_breached", "2026-12-01T13:00:00+00:00",
        {"clock": "resolution", "due_at": "2026-12-01T13:00:00+00:00", "late": False},
    )  # fmt: skip
    sla.apply(clocks, "sla.clock_stopped", {"clock": "resolution", "met": False})
    assert (clocks["resolution"]["state"], sla.deadline(clocks)) == ("stopped", None)
    sla.apply(clocks, "sla.clock_resumed", {"clock": "resolution", "reason": "reopened", "due_at": at(16)})
    assert (clocks["resolution"]["state"], clocks["resolution"]["met"]) == ("breached", None)  # counts on, late


def test_both_clocks_in_one_event_fold_as_the_two_clock_started_events_before_them():
    response = {"clock": "response", "priority": "P2", "target_s": 900.0, "started_at": at(10), "due_at": at(11),
                "calendar": "24x7", "coverage": {}, "warn_at": [0.75]}  # fmt: skip
    resolution = response | {"clock": "resolution", "target_s": 14400.0, "due_at": at(14)}
    ref = {"incident_id": "i-1", "number": "ACME-1"}
    one: dict = {"response": {"state": "stopped", "warned": 3}}  # a replay's leftovers: starting resets them
    two: dict = {"response": {"state": "stopped", "warned": 3}}
    assert sla.apply(one, "sla.clocks_started", ref | {"clocks": [response, resolution]}) is None
    for d in (response, resolution):
        assert sla.apply(two, "sla.clock_started", ref | d) is None
    assert one == two and set(one) == {"response", "resolution"}
    assert one["resolution"]["target_s"] == 14400.0 and sla.deadline(one) == "2026-12-01T11:00:00+00:00"
    assert sla.apply(one, "sla.clocks_started", ref | {"clocks": [{"clock": "lunch"}]}) is None and one == two


def test_a_clock_first_heard_of_by_a_later_event_and_events_for_no_clock():
    clocks: dict = {}
    entry = sla.apply(clocks, "sla.warning", {"clock": "resolution", "fraction": 0.75, "due_at": at(12)})
    assert entry == ("sla_warning", None, {"clock": "resolution", "fraction": 0.75, "due_at": T.replace("10", "12")})
    assert clocks["resolution"] | {"due_at": None} == {"state": "running", "started_at": None, "due_at": None,
                                                       "target_s": None, "paused_at": None, "warned": 1,
                                                       "breached_at": None, "met": None}  # fmt: skip
    assert sla.apply(clocks, "sla.warning", {"clock": "lunch"}) is None and set(clocks) == {"resolution"}


async def test_warnings_and_a_breach_are_on_the_incident_timeline(settings, start, http):
    """The shared test contract: acme P1 must be acknowledged within 2 s; warnings at 75 % and 90 %."""
    triage = await start("triage", settings)
    await start("escalation", settings)
    body = {"tenant": "acme", "title": "ERP down", "ci": "erp-db", "severity": "critical"}
    status, created = await call(http, "POST", f"{triage.url}/v1/incidents", "eng-token", body)
    assert status == 201 and created["priority"] == "P1"

    async def breached():
        d = await detail(http, triage, created["number"])
        return d if "sla_breached" in [t["kind"] for t in d["timeline"]] else None

    d = await eventually(breached)
    sla = [t for t in d["timeline"] if t["kind"].startswith("sla_")]
    due = d["sla"]["response"]["due_at"]
    assert [(t["kind"], t["actor"]) for t in sla] == [("sla_warning", "escalation")] * 2 + [("sla_breached",
                                                                                             "escalation")]  # fmt: skip
    assert [t["detail"] for t in sla] == [
        {"clock": "response", "fraction": 0.75, "due_at": due},
        {"clock": "response", "fraction": 0.9, "due_at": due},
        {"clock": "response", "due_at": due, "late": False},
    ]
    response = d["sla"]["response"]
    assert (response["state"], response["warned"], response["met"]) == ("breached", 2, None)
    assert response["breached_at"] and (d["breached"], d["at_risk"]) == (True, True)
    assert d["due_at"] == due  # a breached clock keeps its passed deadline: the most urgent of all


async def test_a_batch_of_clock_news_is_two_statements_whatever_its_size(settings, config):
    pool = await create_pool(settings.database_url, schema="triage")
    try:
        await migrate(pool, schema="triage", migrations=MIGRATIONS)
        async with pool.acquire() as conn, conn.transaction():
            opened = await run_handler(on_alerts_received, conn, [alert(f"k{n}") for n in range(30)], config)
        now = utcnow()
        news: list[tuple[str, Any]] = []
        for n, e in enumerate(opened):
            ref = {"incident_id": e.data["incident_id"], "number": e.data["number"]}
            started = [SlaClockOpening(clock=clock, priority="P2", target_s=target, started_at=now, due_at=now)
                       for clock, target in (("response", 900.0), ("resolution", 14400.0))]  # fmt: skip
            if n % 2:  # half as escalation publishes them now, half as before issue 17 (one event per clock)
                news.append(("sla.clocks_started", SlaClocksStarted(**ref, clocks=started)))
            else:
                news += [("sla.clock_started", SlaClockStarted(**ref, **c.model_dump())) for c in started]
            news.append(
                (
                    "sla.warning",
                    SlaWarning(
                        **ref,
                        clock="response",
                        priority="P2",
                        fraction=0.75,
                        warn_at=now,
                        due_at=now,
                        fired_at=now,
                        late=False,
                        tier=1,
                        calendar="24x7",
                    ),
                )
            )
            news.append(
                (
                    "sla.breached",
                    SlaBreached(**ref, clock="response", priority="P2", due_at=now, breached_at=now, late=True, tier=1),
                )
            )
            news.append(("sla.clock_stopped", SlaClockStopped(**ref, clock="response", stopped_at=now, elapsed_s=1.0,
                                                              met=False)))  # fmt: skip
        envs = [raise_event(kind, payload, source="escalation", tenant="acme") for kind, payload in news]
        async with pool.acquire() as conn, conn.transaction():
            counted = Counting(conn)
            await run_handler(on_sla_events, counted, envs, config)
        assert counted.statements == 2  # one read, one write, for 135 events on 30 incidents
        rows = await pool.fetch("SELECT sla, due_at, breached FROM incidents")
        assert len(rows) == 30 and all(r["breached"] and r["due_at"] == now for r in rows)
        kinds = await pool.fetch("SELECT kind, count(*) AS n FROM timeline WHERE kind LIKE 'sla_%' GROUP BY kind")
        assert {r["kind"]: r["n"] for r in kinds} == {"sla_warning": 30, "sla_breached": 30}
    finally:
        await pool.close()


class Counting:
    """A real connection that counts the statements sent through it."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.statements = conn, 0

    async def fetch(self, *args: Any) -> Any:
        self.statements += 1
        return await self.conn.fetch(*args)

    async def execute(self, *args: Any) -> Any:
        self.statements += 1
        return await self.conn.execute(*args)


def test_a_clocks_started_of_the_wrong_shape_starts_nothing_and_raises_nothing():
    ref = {"incident_id": "i-1", "number": "ACME-1"}
    for clocks in (5, "response", None, {"clock": "response"}, [3, "x"], [{"priority": "P1"}]):
        found: dict = {}
        assert sla.apply(found, "sla.clocks_started", ref | {"clocks": clocks}) is None and found == {}
        # reporting's stories index each entry by its clock: an entry without one is not handed out
        assert each_clock_started(ref | {"clocks": clocks}) == []
