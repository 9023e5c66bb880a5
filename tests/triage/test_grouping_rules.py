"""The grouping rules, pure (services/triage/grouping.py): the time-dependent edges that the stack tests
cannot wait for, with alerts at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.config import load_config
from libs.contracts import AlertReceived
from services.triage.domain.grouping import Grouping
from services.triage.domain.rules import Window
from tests.triage.conftest import TRIAGE_CONFIG

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
CFG = load_config(TRIAGE_CONFIG)
ACME, GLOBEX = CFG.tenant("acme"), CFG.tenant("globex")


def alert(key="k1", status="firing", minutes: float = 0, ci="erp-db", severity="error", **extra) -> AlertReceived:
    at = T0 + timedelta(minutes=minutes)
    return AlertReceived(
        alert_id=f"{key}-{status}-{minutes}", source="generic", integration="prometheus", dedup_key=key,
        status=status, severity=severity, summary=f"{key} broken", ci=ci, received_at=at, **extra,
    )  # fmt: skip


@pytest.fixture
def g() -> Grouping:
    return Grouping({}, {}, {}, {})


def effects(g: Grouping, tenant, *alerts: AlertReceived) -> list[str]:
    return [g.apply(a, tenant).effect for a in alerts]


def test_repeat_counts_and_trends(g):
    out = [g.apply(alert(severity=s, minutes=n), ACME) for n, s in enumerate(["warning", "critical", "critical"])]
    i = out[0].incident
    assert [o.effect for o in out] == ["opened", "alert_added", "alert_added"]
    assert [o.occurrences for o in out] == [1, 2, 3]  # each outcome its own count
    assert (i.occurrences, i.severity_trend, i.opened_at, i.last_seen) == (3, "rising", T0, T0 + timedelta(minutes=2))


def test_reopen_only_within_the_window(g):
    assert effects(g, ACME, alert(), alert(status="resolved", minutes=1), alert(minutes=61)) == [
        "opened", "resolved", "reopened",
    ]  # fmt: skip
    assert effects(g, ACME, alert(status="resolved", minutes=62), alert(minutes=123)) == ["resolved", "opened"]
    assert len({o.id for o in g.incidents.values()}) == 2


def test_a_person_resolved_incident_reopens_when_its_alert_keeps_firing(g):
    i = g.apply(alert(), ACME).incident
    i.state, i.resolved_at = "resolved", T0 + timedelta(minutes=1)  # resolved by hand; the tool still fires
    i.acknowledged_at = T0
    assert g.apply(alert(minutes=2), ACME).effect == "reopened"
    assert (i.state, i.reopen_count) == ("in_progress", 1)  # it had been acknowledged: back to work


def test_closed_is_final_a_new_incident_opens(g):
    i = g.apply(alert(), ACME).incident
    i.state = "closed"
    assert g.apply(alert(minutes=1), ACME).effect == "opened"


def test_correlation_window_and_tenant_wall(g):
    first = g.apply(alert("a", ci="crm"), GLOBEX)
    assert g.apply(alert("b", ci="crm", minutes=9), GLOBEX).effect == "correlated"
    assert g.apply(alert("c", ci="crm", minutes=11), GLOBEX).effect == "opened"  # past 10 minutes of the opening
    assert g.apply(alert("d", ci="crm", minutes=12), ACME).effect == "opened"  # acme: no correlation, other tenant
    assert first.incident.open_alerts == 2


def test_flapping_marks_and_ends(g):
    seq = ["firing", "resolved", "firing", "resolved", "firing", "resolved"]
    got = [g.apply(alert(status=s, minutes=n), ACME) for n, s in enumerate(seq)]
    assert [o.effect for o in got] == ["opened", "resolved", "reopened", "alert_resolved", "alert_added",
                                       "alert_resolved"]  # fmt: skip
    i = got[0].incident
    assert i.flapping and i.is_open
    # Quiet for longer than the window: the next change is the only recent one; it stops flapping and the
    # next resolve resolves.
    assert [k for k, _ in g.apply(alert(minutes=30), ACME).timeline] == ["flapping_ended"]
    last = g.apply(alert(status="resolved", minutes=31), ACME)
    assert last.effect == "resolved" and not i.flapping


def test_suppression_leaves_the_key_alone(g):
    w = Window("change", "CHG-9", "Patch", ("erp-db",), T0, T0 + timedelta(hours=1))
    g.windows = {"acme": [w]}
    assert effects(g, ACME, alert(minutes=5), alert("w", minutes=6, ci="office-wifi")) == ["suppressed", "opened"]
    assert ("acme", "k1") not in g.keys
    assert effects(g, ACME, alert(minutes=61)) == ["opened"]  # the window is over
    assert effects(g, ACME, alert("x", minutes=30, ci=None)) == ["opened"]  # a change window names its CIs
    g.windows = {"acme": [Window("maintenance", "Move", "Move", (), T0, T0 + timedelta(hours=2))]}
    assert effects(g, ACME, alert("y", minutes=70, ci=None)) == ["suppressed"]  # maintenance without CIs: all


def test_resolves_and_acks_that_change_nothing(g):
    assert effects(g, ACME, alert(status="resolved"), alert(status="acknowledged")) == ["resolve_ignored",
                                                                                        "ack_ignored"]  # fmt: skip
    assert effects(g, ACME, alert(), alert(status="acknowledged", minutes=1), alert(status="acknowledged", minutes=2))\
        == ["opened", "acknowledged", "ack_ignored"]  # fmt: skip
    assert effects(g, ACME, alert(status="resolved", minutes=3), alert(status="resolved", minutes=4)) == [
        "resolved", "resolve_ignored",
    ]  # fmt: skip


def test_flapping_without_a_reopen_window_opens_few_incidents_then_holds_one(g):
    seq = ["firing", "resolved"] * 5  # globex: no reopen window, flapping past 4 changes in 10 minutes
    out = [g.apply(alert("f", status=s, minutes=n, ci=None), GLOBEX) for n, s in enumerate(seq)]
    assert [o.effect for o in out] == ["opened", "resolved", "opened", "resolved", "opened", "alert_resolved",
                                       "alert_added", "alert_resolved", "alert_added", "alert_resolved"]  # fmt: skip
    assert out[-1].incident.flapping and out[-1].incident.is_open


def test_a_suppressed_alert_is_held_by_its_window_only_with_no_incident_to_join(g):
    w = Window("change", "CHG-9", "Patch", ("erp-db",), T0 + timedelta(minutes=10), T0 + timedelta(hours=1))
    before = g.apply(alert("open", minutes=0), ACME)  # an incident open before the change began
    g.windows = {"acme": [w]}
    alone, joined = g.apply(alert(minutes=15), ACME), g.apply(alert("open", minutes=16), ACME)
    assert (alone.effect, alone.incident, alone.held) == ("suppressed", None, w)
    assert w.key == "change:CHG-9"
    assert (joined.effect, joined.incident, joined.held) == ("suppressed", before.incident, None)  # attached
    released = g.apply(alert(minutes=60), ACME)  # applied again at the window's end: opens
    assert (released.effect, released.held) == ("opened", None)


def test_a_tools_resolve_after_a_persons_resolve_is_recorded_on_the_incident(g):
    i = g.apply(alert(), ACME).incident
    i.state, i.resolved_at, i.resolution_code = "resolved", T0 + timedelta(minutes=1), "solved"  # by hand
    out = g.apply(alert(status="resolved", minutes=2), ACME)
    assert (out.effect, out.incident, out.note) == ("alert_resolved", i, "after the incident was resolved")
    assert (i.state, i.resolved_at, i.resolution_code, i.open_alerts) == ("resolved", T0 + timedelta(minutes=1),
                                                                          "solved", 0)  # fmt: skip
    assert g.keys[("acme", "k1")].status == "resolved" and out.timeline == []  # no lifecycle change
    assert g.apply(alert(status="resolved", minutes=3), ACME).effect == "resolve_ignored"  # said once


def test_an_incident_its_tool_resolved_is_auto_resolved_until_it_reopens(g):
    i = g.apply(alert(), ACME).incident
    g.apply(alert(status="resolved", minutes=1), ACME)
    assert (i.state, i.resolution_code, i.first_contact) == ("resolved", "auto_resolved", None)
    g.apply(alert(minutes=2), ACME)  # fires again within the reopen window
    assert (i.state, i.resolution_code) == ("new", None)
