"""The console's pure rules alone: queue filters, countdowns, the calendar, what a role is offered, refusals in
words, the live message shape and the fan-out's tenant walls."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from libs.auth import Principal
from services.console.api.forms import change_body, incident_body, new_change_body, utc_time
from services.console.domain.calendar import layout
from services.console.domain.clocks import countdown, row_countdown, span
from services.console.domain.queue import BadFilter, QueueFilter, parse_filter
from services.console.domain.roles import change_actions, incident_actions, navigation, vote_refusal
from services.console.domain.words import in_words
from services.console.events import LiveUpdate, live_item
from services.console.handlers import LiveHub

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ENGINEER = Principal("eve", "engineer", None)
AGENT = Principal("ann", "agent", None, tier=1)
VIEWER = Principal("acme-viewer", "client_viewer", "acme")
APPROVER = Principal("globex-approver", "client_approver", "globex")
ALICE = Principal("alice", "change_manager", None)
BOB = Principal("bob", "cab_member", None)
SCOPED = Principal("nina", "engineer", None, frozenset({"globex"}))
MANAGER_P = Principal("max", "manager", None)


# --- queue filters ---------------------------------------------------------------------------------------


def test_a_queue_filter_asks_the_list_api_for_exactly_its_rows():
    f = parse_filter({"view": "2", "tenant": "acme", "priority": "P1", "risk": "breached", "sort": "due"}, ["acme"])
    assert f.api_params("eve") == {
        "limit": "50", "tier": "2", "tenant": "acme", "priority": "P1", "state": "open", "breached": "true",
        "sort": "due",
    }  # fmt: skip
    assert QueueFilter(view="mine", state="").api_params("eve") == {"limit": "50", "assignee": "eve"}


def test_bad_filters_are_refused_with_what_is_allowed():
    with pytest.raises(BadFilter) as exc:
        parse_filter({"priority": "P9", "tenant": "globex", "view": "4"}, ["acme"])
    assert {p["field"] for p in exc.value.problems} == {"priority", "tenant", "view"}


def test_a_live_row_belongs_on_the_page_only_when_it_matches():
    row = {"tier": 1, "state": "new", "tenant": "acme", "priority": "P2", "assignee": None, "title": "Disk full",
           "number": "ACME-4", "at_risk": True}  # fmt: skip
    assert QueueFilter().matches(row, "eve")
    assert QueueFilter(view="1", risk="at_risk", text="disk").matches(row, "eve")
    assert not QueueFilter(view="2").matches(row, "eve")
    assert not QueueFilter(view="mine").matches(row, "eve")
    assert not QueueFilter().matches(row | {"state": "resolved"}, "eve")  # acknowledged elsewhere, gone
    assert not QueueFilter(tenant="globex").matches(row, "eve")
    assert QueueFilter().query_string(view="2") == "view=2"


# --- countdowns ------------------------------------------------------------------------------------------


def clock(**kw):
    return {"state": "running", "due_at": (NOW + timedelta(minutes=14, seconds=5)).isoformat(), "warned": 0} | kw


def test_a_countdown_says_how_long_is_left_and_colours_warnings_and_breaches():
    assert countdown("response", clock(), NOW).text == "respond in 14m 05s"
    assert countdown("response", clock(), NOW).tone == "ok"
    assert countdown("response", clock(warned=1), NOW).tone == "warn"
    late = countdown("resolution", clock(state="breached", due_at=(NOW - timedelta(hours=2)).isoformat()), NOW)
    assert (late.tone, late.text, late.ticking) == ("breach", "resolve: breached 2h 00m ago", True)
    paused = countdown("resolution", clock(state="paused"), NOW)
    assert (paused.tone, paused.text, paused.ticking) == ("paused", "resolve: paused", False)
    assert countdown("response", clock(state="stopped", met=True), NOW).text == "respond: met"
    assert countdown("response", clock(state="stopped", met=False), NOW).text == "respond: missed"
    assert span(90061) == "1d 1h" and span(42) == "42s"


def test_a_row_shows_the_response_clock_until_it_stops_then_the_resolution_clock():
    clocks = {"response": clock(), "resolution": clock(due_at=(NOW + timedelta(hours=4)).isoformat())}
    assert row_countdown({}, clocks, NOW).clock == "response"
    clocks["response"] = clock(state="stopped", met=True)
    assert row_countdown({}, clocks, NOW).text == "resolve in 4h 00m"
    assert row_countdown({"at_risk": True}, clocks, NOW).tone == "warn"  # triage heard the warning first
    assert row_countdown({}, {}, NOW).tone == "none"
    # The incident's own `sla` wins over escalation's list when triage sends it.
    from services.console.domain.clocks import clocks_by_name

    own = {"sla": {"response": clock(state="paused"), "resolution": {}}}
    assert set(clocks_by_name(own, [{"clock": "response"}])) == {"response"}
    assert clocks_by_name({}, [{"clock": "resolution", "x": 1}]) == {"resolution": {"clock": "resolution", "x": 1}}


# --- calendar --------------------------------------------------------------------------------------------


def change(number, start, hours=2, state="scheduled", cis=("erp-db",), tenant="acme"):
    return {"kind": "managed", "number": number, "state": state, "cis": list(cis), "tenant": tenant,
            "start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}  # fmt: skip


def test_the_week_view_places_changes_flags_conflicts_and_shades_freezes():
    monday = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    items = [
        change("ACME-CHG-1", monday, hours=4),  # runs into Tuesday
        change("ACME-CHG-2", monday + timedelta(hours=3)),  # overlaps on erp-db
        change("ACME-CHG-3", monday + timedelta(hours=3), cis=("crm",)),  # another CI: no conflict
        change("ACME-CHG-4", monday + timedelta(hours=3), state="cancelled"),  # not booked
        change("GLOBEX-CHG-1", monday + timedelta(hours=3), tenant="globex"),
    ]
    freezes = [{"tenant": "acme", "name": "xmas", "start": "2026-12-03T00:00:00Z", "end": "2026-12-04T00:00:00Z"}]
    grid = layout("week", date(2026, 12, 2), items, freezes)
    [week] = grid.weeks
    assert week[0].day == date(2026, 11, 30) and len(week) == 7
    by_number = {e.item["number"]: e for d in week for e in d.entries}
    assert by_number["ACME-CHG-1"].conflicts == ["ACME-CHG-2"] and by_number["ACME-CHG-2"].conflicts == ["ACME-CHG-1"]
    assert not by_number["ACME-CHG-3"].flagged and not by_number["GLOBEX-CHG-1"].flagged
    assert {e.item["number"] for e in week[1].entries} >= {"ACME-CHG-1", "ACME-CHG-2"}  # Tuesday too
    assert [d.freezes for d in week][3] == ["xmas"] and week[2].freezes == []
    assert (grid.prev, grid.next) == (date(2026, 11, 23), date(2026, 12, 7))


def test_the_month_view_is_whole_weeks_monday_first_and_flags_a_change_inside_a_freeze():
    freezes = [{"tenant": "acme", "name": "year-end", "start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00Z"}]
    inside = change("ACME-CHG-9", datetime(2026, 12, 22, 2, tzinfo=UTC))
    grid = layout("month", date(2026, 12, 15), [inside], freezes)
    days = [d for w in grid.weeks for d in w]
    assert days[0].day == date(2026, 11, 30) and days[-1].day == date(2027, 1, 3) and len(days) % 7 == 0
    assert not days[0].in_range and days[1].in_range
    [entry] = next(d for d in days if d.day == date(2026, 12, 22)).entries
    assert entry.frozen == ["year-end"] and grid.title == "December 2026" and grid.next == date(2027, 1, 1)


# --- roles -----------------------------------------------------------------------------------------------


def test_incident_actions_follow_a_caller_aware_triage_exactly_else_the_role():
    old = {"state": "new", "tier": 1, "allowed_actions": ["acknowledge", "resolve", "start"]}
    assert incident_actions(old, ENGINEER) == ["acknowledge", "start", "resolve", "assign", "priority", "escalate",
                                               "notes"]  # fmt: skip
    assert incident_actions(old, VIEWER) == [] and incident_actions(old, BOB) == []
    new = {"state": "new", "sla": {}, "allowed_actions": ["acknowledge", "notes"]}
    assert incident_actions(new, ENGINEER) == ["acknowledge", "notes"]
    assert incident_actions(new | {"allowed_actions": []}, VIEWER) == []
    assert "escalate" not in incident_actions(old | {"tier": 3}, AGENT)


def test_change_actions_keep_to_the_roles_and_nobody_votes_on_their_own_change():
    voting = {"requested_by": "alice", "allowed_actions": ["approve", "reject", "cancel"], "votes": []}
    assert change_actions(voting, BOB) == ["approve", "reject"]
    assert change_actions(voting, ALICE) == ["cancel"]
    assert "raised this change" in vote_refusal(voting, ALICE)
    voted = voting | {"votes": [{"voter": "bob", "vote": "approve"}]}
    assert change_actions(voted, BOB) == [] and vote_refusal(voted, BOB) == "You have voted on this change."
    assert change_actions(voting, VIEWER) == []
    assert change_actions(voting | {"awaiting": {"client_approval": True}}, APPROVER) == ["approve", "reject"]
    assert change_actions(voting | {"awaiting": {"client_approval": False}}, APPROVER) == []
    assert vote_refusal({"allowed_actions": ["schedule"]}, BOB) is None


def test_clients_get_no_mine_tab():
    assert [n.key for n in navigation(ENGINEER)] == ["queue", "mine", "changes", "oncall", "reports"]
    assert [n.key for n in navigation(VIEWER)] == ["queue", "changes", "oncall", "reports"]


def test_the_console_knows_each_api_prefix_by_the_service_that_declares_it():
    """upstream.OWNERS (which service answers a path, for TIERLINE_API_URLS) against each SERVICE spec."""
    from services.console.upstream import OWNERS
    from services.registry import NAMES, REGISTRY

    declared = {p: n for n in NAMES for p in REGISTRY.spec(n).prefixes}
    assert {p: OWNERS[p] for p in OWNERS if p in declared} == {p: declared[p] for p in OWNERS if p in declared}
    for prefix, owner in OWNERS.items():  # a prefix the console calls lies under one its owner declares
        assert any(prefix.startswith(d) or d.startswith(prefix) for d, n in declared.items() if n == owner), prefix


def test_the_week_of_shifts_is_cut_at_midnight_utc():
    from datetime import date

    from services.console.domain.oncall import by_day, may_override

    shifts = [
        {"user": "eve", "start": "2026-06-07T23:00:00+00:00", "end": "2026-06-09T08:00:00+00:00", "layer": "weekly"},
        {"user": "oscar", "start": "2026-06-09T08:00:00Z", "end": "2026-06-09T09:00:00Z", "override_id": "o1"},
    ]
    days = by_day(shifts, date(2026, 6, 8))
    assert [[(p.user, p.label, p.source) for p in d] for d in days[:2]] == [
        [("eve", "00:00\u201324:00", "layer weekly")],
        [("eve", "00:00\u201308:00", "layer weekly"), ("oscar", "08:00\u201309:00", "override")],
    ]
    assert all(d == [] for d in days[2:])
    assert may_override(MANAGER_P) and not may_override(ENGINEER) and not may_override(VIEWER)


# --- words, forms --------------------------------------------------------------------------------------


def test_refusals_read_as_sentences():
    title, sentence, lines = in_words(
        409, {"code": "illegal_transition", "message": "cannot acknowledge an incident that is resolved",
              "details": [{"allowed": ["close", "reopen"]}]})  # fmt: skip
    assert (title, sentence, lines) == (
        "Not possible now",
        "Cannot acknowledge an incident that is resolved.",
        ["Possible now: close, reopen."],
    )
    _, _, lines = in_words(422, {"message": "bad", "details": [{"field": "reason", "message": "Field required"}]})
    assert lines == ["reason: Field required"]


def test_forms_become_api_bodies():
    assert incident_body("resolve", {"resolution_code": "workaround", "first_contact": "on"}) == {
        "resolution_code": "workaround", "first_contact": True}  # fmt: skip
    assert incident_body("notes", {"text": " hi "}) == {"text": "hi", "internal": False}
    assert incident_body("assign", {"assignee": ""}) == {"assignee": None}
    assert change_body("fail", {}) == {"rollback": None}
    assert change_body("schedule", {"planned_start": "2030-06-01T02:00", "comment": ""}) == {
        "planned_start": "2030-06-01T02:00:00Z"}  # fmt: skip
    assert utc_time("2030-06-01T02:00:00+02:00") == "2030-06-01T02:00:00+02:00"
    body = new_change_body({"change_type": "standard", "template": "acme:wifi-firmware", "tenant": "globex"})
    assert body == {"tenant": "acme", "change_type": "standard", "template": "wifi-firmware"}
    body = new_change_body({"tenant": "acme", "title": "x", "cis": "erp-db, core-router"})
    assert body["cis"] == ["erp-db", "core-router"] and body["change_type"] == "normal"


# --- live messages ---------------------------------------------------------------------------------------


def envelope(data, subject="i-1"):
    return json.dumps({"subject": subject, "data": data}).encode()


def test_a_live_item_carries_ids_and_types_only():
    tenant, item = live_item("p.incident.opened.acme", envelope({"incident_id": "i-1", "number": "ACME-1",
                                                                 "title": "secret"}), "p")  # fmt: skip
    assert tenant == "acme" and item.model_dump() == {"kind": "incident", "type": "incident.opened", "id": "i-1",
                                                       "number": "ACME-1"}  # fmt: skip
    assert live_item("p.sla.breached.acme", envelope({"incident_id": "i-2"}), "p")[1].kind == "incident"
    assert live_item("p.change.approved.acme", envelope({}, subject="c-1"), "p")[1].id == "c-1"
    assert live_item("p.alert.received.acme", envelope({}), "p") is None
    assert live_item("other.incident.opened.acme", envelope({}), "p") is None
    assert live_item("p.incident.opened.acme", b"not json", "p") is None


async def test_the_hub_fans_out_per_tenant_and_coalesces_bursts():
    hub = LiveHub(max_items=3)
    provider, client, scoped = hub.connect(ENGINEER), hub.connect(VIEWER), hub.connect(SCOPED)
    _, a = live_item("p.incident.opened.acme", envelope({"incident_id": "a"}), "p")
    _, g = live_item("p.incident.opened.globex", envelope({"incident_id": "g"}), "p")
    hub.on_item("acme", a)
    hub.on_item("acme", a)  # the same incident twice in one flush: sent once
    hub.on_item("globex", g)
    hub.flush()

    def update(listener) -> LiveUpdate:
        return LiveUpdate.model_validate_json(listener.queue.get_nowait())

    assert sorted(i.id for i in update(provider).items) == ["a", "g"]
    assert [i.id for i in update(client).items] == ["a"]
    assert [i.id for i in update(scoped).items] == ["g"]
    for n in range(5):
        hub.on_item("acme", live_item("p.incident.opened.acme", envelope({"incident_id": f"x{n}"}), "p")[1])
    hub.flush()
    assert update(client).resync and scoped.queue.empty()
    # A tab that does not read: its queue fills, then it is told to reload once it reads again.
    for _ in range(client.queue.maxsize + 2):
        hub.on_item("acme", a)
        hub.flush()
    assert client.missed
    while not client.queue.empty():
        client.queue.get_nowait()
    hub.flush()  # nothing new, but it missed some: a resync
    assert update(client).resync
    hub.close_all()  # the console stops: every stream gets its end marker, a full queue too
    for listener in (provider, client, scoped):
        items = [listener.queue.get_nowait() for _ in range(listener.queue.qsize())]
        assert items[-1] is None
    hub.disconnect(provider)
    assert provider not in hub.listeners


def test_triage_s_copy_of_the_clocks_is_checked_against_the_incident_s_state():
    from services.console.domain.clocks import copy_lags

    running, stopped = {"state": "running"}, {"state": "stopped", "met": True}
    assert copy_lags({"state": "new"}) and copy_lags({"state": "new", "sla": {}})  # none heard of yet
    assert not copy_lags({"state": "new", "sla": {"response": running, "resolution": running}})
    assert copy_lags({"state": "acknowledged", "sla": {"response": running, "resolution": running}})
    assert not copy_lags({"state": "acknowledged", "sla": {"response": stopped, "resolution": running}})
    assert copy_lags({"state": "on_hold", "sla": {"response": stopped, "resolution": running}})
    assert copy_lags({"state": "resolved", "sla": {"response": stopped, "resolution": running}})
    assert not copy_lags({"state": "closed", "sla": {}})
