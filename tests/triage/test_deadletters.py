"""No silent dead letters: a poison alert still opens an incident (one, though two consumers gave up on it), the
dead-letter stream is listed for provider admins, and a letter is replayed once after a fix."""

from __future__ import annotations

import asyncpg
from prometheus_client import REGISTRY

from libs import deadletters
from libs.bus import connect_bus, dead_letter_subject
from libs.contracts import AlertReceived
from libs.events import raise_event, utcnow
from libs.testing import consumer_caught_up, stream_envelopes
from tests.conftest import auth, eventually
from tests.events import Incident as Story
from tests.events import utc

TITLE = "Alert could not be processed: Disk errors on nas\ufffd-01"


def poison_alert():
    """An alert as an older intake stored it: a NUL in its summary, which PostgreSQL refuses every time."""
    alert = AlertReceived(
        alert_id="a" * 32, source="generic", integration="prometheus", dedup_key="nas-disk", status="firing",
        severity="critical", summary="Disk errors on nas\x00-01", received_at=utcnow(),
    )  # fmt: skip
    return raise_event("alert.received", alert, source="intake", tenant="acme", subject="a" * 32, event_id="a" * 32)


async def get(http, url: str, token: str = "admin-token"):
    async with http.get(url, headers=auth(token)) as r:
        return r.status, await r.json()


async def post(http, url: str, token: str = "admin-token"):
    async with http.post(url, headers=auth(token)) as r:
        return r.status, await r.json()


async def letters(http, triage, **query: str) -> list[dict]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    status, body = await get(http, f"{triage.url}/v1/deadletters?{q}")
    assert status == 200, body
    return body["items"]


async def test_a_poison_alert_opens_one_fallback_incident_and_is_listed(settings, start, http):
    triage = await start("triage", settings)
    await start("reporting", settings)
    await start("escalation", settings)
    bus = await connect_bus(settings, name="test")
    try:
        await bus.publish(poison_alert())
        both = await eventually(lambda: _count(http, triage, 2), timeout=30)
        assert {item["consumer"] for item in both} == {"triage", "reporting"}  # the same alert, twice
        await eventually(lambda: _fallback_settled(settings), timeout=30)

        async with http.get(f"{triage.url}/v1/incidents?tenant=acme", headers=auth("admin-token")) as r:
            items = (await r.json())["items"]
        [incident] = items  # one incident for both letters
        assert incident["title"] == TITLE
        assert (incident["priority"], incident["tier"], incident["state"]) == ("P2", 1, "new")
        # The raw summary and the error of whichever letter came first (triage's or reporting's).
        assert "Summary: Disk errors on nas\ufffd-01" in incident["description"]
        assert (
            "CharacterNotInRepertoire" in incident["description"]
            or "UntranslatableCharacter" in incident["description"]
        )
        await eventually(lambda: _clocks(settings, incident["id"]), timeout=30)  # clocks run: someone is paged

        letter = next(item for item in both if item["consumer"] == "triage")
        assert letter["subject"] == bus.subject("alert.received", "acme")
        assert (letter["tenant"], letter["event_type"], letter["event_id"]) == ("acme", "alert.received", "a" * 32)
        assert letter["deliveries"] == settings.max_deliveries and "CharacterNotInRepertoire" in letter["error"]
        assert letter["data"]["summary"] == "Disk errors on nas\x00-01" and letter["time"]
        assert [i["consumer"] for i in await letters(http, triage, consumer="reporting")] == ["reporting"]
        assert await letters(http, triage, tenant="globex") == []
        for token in ("eng-token", "acme-viewer-token"):
            status, body = await get(http, f"{triage.url}/v1/deadletters", token)
            assert status == 403 and body["error"]["code"] == "forbidden"
        status, body = await get(http, f"{triage.url}/v1/deadletters?limit=0")
        assert status == 400
        async with http.get(f"{triage.url}/metrics") as r:
            metrics = await r.text()
        assert 'tierline_dead_letters_total{consumer="triage"} 1.0' in metrics
        await deadletters.gauge(bus).tick()
        assert REGISTRY.get_sample_value("tierline_dead_letter_messages") == 2

        # Replayed unfixed, it fails again; its new letter is the same alert: still one incident.
        status, replayed = await post(http, f"{triage.url}/v1/deadletters/{letter['id']}/replay")
        assert status == 202 and replayed["replay_of"] == "a" * 32 and replayed["event_id"] != "a" * 32
        again = await eventually(lambda: _from_replay(http, triage), timeout=30)
        assert again["replay_of"] == "a" * 32
        await eventually(lambda: _fallback_settled(settings), timeout=30)
        async with http.get(f"{triage.url}/v1/incidents?tenant=acme", headers=auth("admin-token")) as r:
            assert len((await r.json())["items"]) == 1
    finally:
        await bus.close()


async def test_a_letter_is_replayed_once_and_applied_only_where_it_failed(settings, start, http):
    """A letter of escalation's (a bug since fixed): the replay starts its clocks; reporting, which recorded the
    original already, does not record it twice; a second replay is refused."""
    triage = await start("triage", settings)
    await start("escalation", settings)
    await start("reporting", settings)
    bus = await connect_bus(settings, name="test")
    try:
        opened = Story("6f1c0c3e-0000-4000-8000-000000000001", "P2", utc(2026, 11, 30, 9)).opened()
        await bus.publish(opened.model_copy(update={"subject": None}))  # reporting records it; escalation too
        assert await consumer_caught_up(settings, "reporting")
        # Plant the letter escalation would have written had it failed on it.
        headers = {"Tierline-Error": "RuntimeError('bug')", "Tierline-Consumer": "escalation",
                   "Tierline-Subject": bus.subject_of(opened), "Tierline-Deliveries": "5"}  # fmt: skip
        await bus.js.publish(dead_letter_subject(bus, "escalation", bus.subject_of(opened)), opened.encode(),
                             headers=headers)  # fmt: skip
        [letter] = await letters(http, triage)
        assert letter["consumer"] == "escalation" and letter["event_type"] == "incident.opened"

        status, body = await post(http, f"{triage.url}/v1/deadletters/{letter['id']}/replay")
        assert status == 202, body
        status, again = await post(http, f"{triage.url}/v1/deadletters/{letter['id']}/replay")
        assert status == 409 and again["error"]["code"] == "already_replayed"
        status, _ = await post(http, f"{triage.url}/v1/deadletters/{letter['id'] + 50}/replay")
        assert status == 404
        assert await letters(http, triage) == []  # replayed: no longer listed

        replays = [e for e in await stream_envelopes(settings, "incident.opened") if e.replayof]
        assert [(e.id, e.replayof) for e in replays] == [(body["event_id"], opened.id)]
        assert await consumer_caught_up(settings, "escalation") and await consumer_caught_up(settings, "reporting")
        conn = await asyncpg.connect(settings.database_url)
        try:
            ledger = await conn.fetchval("SELECT count(*) FROM reporting.ledger WHERE type = 'incident.opened'")
            clocks = await conn.fetchval("SELECT count(*) FROM escalation.sla_clocks")
        finally:
            await conn.close()
        assert ledger == 1  # the replay is the same event for a consumer that applied it
        assert clocks == 2  # escalation had applied the original too (the planted letter was a pretence)
    finally:
        await bus.close()


async def _count(http, triage, n: int) -> list[dict] | None:
    items = await letters(http, triage)
    return items if len(items) >= n else None


async def _from_replay(http, triage) -> dict | None:
    return next((i for i in await letters(http, triage, consumer="triage") if i["event_id"] != "a" * 32), None)


async def _fallback_settled(settings) -> bool:
    bus = await connect_bus(settings, name="probe")
    try:
        info = await bus.js.consumer_info(bus.dead_letter_stream, "triage-deadletters")
        return info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await bus.close()


async def _clocks(settings, incident_id: str) -> bool:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM escalation.sla_clocks WHERE incident_id = $1", incident_id) == 2
        )
    finally:
        await conn.close()
