"""Whom a step pages (pure): the person on call per schedule, a gap's fallback, each person once, pages per
contact method with their delays, and the links a page carries."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import yaml

from libs.config import TierlineConfig
from services.escalation.domain.acklinks import AckLink, feed_token, feed_token_ok, link_state, token_hash
from services.escalation.domain.notifications import Incident
from services.escalation.domain.pages import OnCall, Recipient, person_pages, plan_step, with_links
from tests.conftest import TEST_CONFIG

SATURDAY, TUESDAY_NIGHT = datetime(2026, 6, 6, 12, tzinfo=UTC), datetime(2026, 6, 9, 21, tzinfo=UTC)


def config(**noc) -> TierlineConfig:
    raw = copy.deepcopy(yaml.safe_load(TEST_CONFIG.read_text()))
    raw["provider"]["schedules"][0].update(noc)
    return TierlineConfig.model_validate(raw)


def test_the_person_on_call_each_once_and_the_next_handoff():
    d = config().directory
    plan = plan_step(d, "acme", ["schedule:noc", "schedule:acme-dba", "user:eve"], OnCall({}), TUESDAY_NIGHT)
    # Tuesday night: eve has the NOC week, and Acme's daily DBA turn; she is paged once, for the first schedule.
    assert [(r.person.name, r.schedule) for r in plan.recipients] == [("eve", "noc")]
    assert plan.on_call == {"noc": "eve", "acme-dba": "eve"} and plan.gaps == []
    assert plan.handoff_at == datetime(2026, 6, 10, 7, tzinfo=UTC)  # Acme's 08:00 London handoff to dana


def test_a_gap_pages_the_fallback_and_a_handoff_pages_only_who_changed():
    weekends = [{"days": ["sat", "sun"], "start": "00:00", "end": "00:00"}]
    weekend_only = [
        {"name": "weekend", "users": ["carol"], "rotation": {"length": "1w"}, "start": "2026-01-05T09:00:00",
         "restrictions": weekends}
    ]  # fmt: skip
    d = config(layers=weekend_only, fallback="oscar").directory
    gap = plan_step(d, "acme", ["schedule:noc"], OnCall({}), TUESDAY_NIGHT)
    assert gap.on_call == {"noc": None} and gap.gaps == ["noc"]
    assert [(r.person.name, r.fallback) for r in gap.recipients] == [("oscar", True)]
    # carol (an API user without contact methods) is on at the weekend: on call, but nobody to page.
    weekend = plan_step(d, "acme", ["schedule:noc"], OnCall({}), SATURDAY)
    assert weekend.on_call == {"noc": "carol"} and weekend.recipients == []
    same = plan_step(d, "acme", ["schedule:noc", "user:eve"], OnCall({}), SATURDAY, previous={"noc": "carol"})
    assert same.recipients == []  # a handoff look: nobody new, and the step's own users are not paged again


def test_pages_per_contact_method_with_delays_and_links():
    d = config().directory
    eve = d.person(None, "eve")
    eve = eve.model_copy(update={"contact_methods": [*eve.contact_methods, eve.contact_methods[0].model_copy(
        update={"kind": "slack", "delay": timedelta(minutes=2)})]})  # fmt: skip
    incident = Incident("8f1c1c1e-0000-4000-8000-000000000001", "ACME-9", "Disk full", "P2", 1)
    pages = person_pages("acme", [Recipient(eve, "noc")], trigger="step", incident=incident,
                         event={"data": {"step": 0, "round": 0}}, dedup="cause-1", at=SATURDAY)  # fmt: skip
    assert [(p.kind, p.method, p.due_at, p.dedup_key) for p in pages] == [
        ("webhook", 0, SATURDAY, "cause-1#0"), ("slack", 1, SATURDAY + timedelta(minutes=2), "cause-1#1"),
    ]  # fmt: skip
    assert pages[1].body["text"] == "[P2] ACME-9 Disk full: paging eve (on call for noc; escalation step 1, round 1)"
    links = {"acknowledge": "https://t.example/v1/ack/a", "resolve": "https://t.example/v1/ack/r"}
    mail = with_links("email", {"subject": "s", "text": "body"}, links, SATURDAY)
    assert "Acknowledge: https://t.example/v1/ack/a\nResolve: https://t.example/v1/ack/r" in mail["text"]
    assert with_links("webhook", {"id": "x"}, links, SATURDAY)["links"] == links


def test_links_and_feed_tokens():
    link = AckLink.issue("tok", at=SATURDAY, valid_for=timedelta(hours=24), incident_id="i", tenant="acme",
                         number="ACME-9", person="eve", acts_as="eve", action="acknowledge", notification_id="n",
                         method="email")  # fmt: skip
    assert link.token_sha256 == token_hash("tok") != "tok"
    assert [link_state(link, SATURDAY + timedelta(hours=h)) for h in (0, 23.9, 24)] == ["valid", "valid", "expired"]
    assert link_state(None, SATURDAY) == "unknown"
    token = feed_token("key", "noc", 0)
    assert feed_token_ok(token, "key", "noc", 0) and not feed_token_ok(token, "key", "noc", 1)
    assert not feed_token_ok(token, "other", "noc", 0) and not feed_token_ok(token, "key", "noc", 0, "eve")


def test_one_rendering_for_a_batch_answers_as_each_moment_alone():
    from services.escalation.domain.schedules import next_handoff, on_call

    d = config().directory
    noc = d.schedules["noc"].schedule
    cache = OnCall({})
    moments = [SATURDAY + timedelta(hours=7 * n) for n in range(30)]  # across a week: weekend, weekdays, handoffs
    for at in moments:
        plan = plan_step(d, "acme", ["schedule:noc"], cache, at)
        shift = on_call(noc, [], at)
        assert plan.on_call == {"noc": shift.user if shift else None}
        assert plan.handoff_at == next_handoff(noc, [], at)
