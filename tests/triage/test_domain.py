"""Triage's pure rules: the priority matrix, impact and urgency, grouping alerts, the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.contracts import AlertReceived
from libs.lifecycle import IllegalTransition
from services.triage.domain import apply_alert, assess, priority, transition

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def acme(config):
    return config.tenant("acme")


@pytest.fixture
def globex(config):
    return config.tenant("globex")


def alert(status="firing", severity="critical", ci="erp-db", dedup_key="k1", at=T0, **extra) -> AlertReceived:
    return AlertReceived(
        alert_id=f"a-{at.timestamp()}", source="generic", integration="prometheus", dedup_key=dedup_key,
        status=status, severity=severity, summary="ERP DB down", ci=ci, received_at=at, **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        ("high", "high", "P1"), ("high", "medium", "P2"), ("high", "low", "P3"),
        ("medium", "high", "P2"), ("medium", "medium", "P3"), ("medium", "low", "P4"),
        ("low", "high", "P3"), ("low", "medium", "P4"), ("low", "low", "P5"),
    ],
)  # fmt: skip
def test_priority_matrix(impact, urgency, expected):
    assert priority(impact, urgency) == expected


@pytest.mark.parametrize(
    ("tenant", "ci", "impact", "category"),
    [
        ("acme", "erp-db", "high", "infrastructure"),  # critical
        ("globex", "crm", "high", "cloud"),  # high
        ("acme", "office-wifi", "low", "network"),  # low
        ("acme", "not-declared", "medium", None),
        ("acme", None, "medium", None),
        ("globex", "erp-db", "medium", None),  # another tenant's CI is unknown here
    ],
)
def test_impact_from_ci_criticality(config, tenant, ci, impact, category):
    got_impact, _, _, got_category = assess(config.tenant(tenant), ci, "error")
    assert (got_impact, got_category) == (impact, category)


@pytest.mark.parametrize(
    ("severity", "urgency"), [("critical", "high"), ("error", "medium"), ("warning", "low"), ("info", "low")]
)
def test_urgency_from_severity(acme, severity, urgency):
    assert assess(acme, "office-wifi", severity)[1] == urgency


def test_assess_combines_impact_and_urgency(acme):
    assert assess(acme, "erp-db", "critical") == ("high", "high", "P1", "infrastructure")
    assert assess(acme, "office-wifi", "info") == ("low", "low", "P5", "network")
    assert assess(acme, "unknown-ci", "critical") == ("medium", "high", "P2", None)


def test_first_alert_opens_an_incident(acme):
    started = T0 - timedelta(minutes=3)
    effect, inc = apply_alert(None, alert(started_at=started), acme)
    assert effect == "opened"
    assert inc is not None and inc.is_new and inc.dirty
    assert (inc.tenant, inc.state, inc.tier, inc.occurrences) == ("acme", "new", 1, 1)
    assert (inc.priority, inc.impact, inc.urgency, inc.category) == ("P1", "high", "high", "infrastructure")
    assert (inc.ci, inc.dedup_key, inc.title, inc.severity, inc.source) == (
        "erp-db", "k1", "ERP DB down", "critical", "generic",
    )  # fmt: skip
    assert inc.opened_at == inc.last_seen == T0
    assert inc.detected_at == started
    assert inc.number == "" and inc.resolved_at is None


def test_each_opened_incident_gets_its_own_id(acme):
    _, one = apply_alert(None, alert(), acme)
    _, two = apply_alert(None, alert(), acme)
    assert one.id != two.id


def test_repeat_alert_adds_to_the_open_incident(acme):
    _, inc = apply_alert(None, alert(severity="warning"), acme)
    inc.dirty = False
    later = T0 + timedelta(minutes=5)
    effect, same = apply_alert(inc, alert(severity="critical", at=later), acme)
    assert effect == "alert_added" and same is inc
    assert (inc.occurrences, inc.severity, inc.last_seen, inc.opened_at) == (2, "critical", later, T0)
    assert inc.dirty and inc.state == "new"
    # Priority is set when the incident opens; a louder repeat does not re-prioritise it.
    assert inc.priority == "P3"


def test_resolved_alert_resolves_the_open_incident(acme):
    _, inc = apply_alert(None, alert(), acme)
    inc.dirty = False
    later = T0 + timedelta(minutes=9)
    effect, same = apply_alert(inc, alert(status="resolved", at=later), acme)
    assert effect == "resolved" and same is inc
    assert (inc.state, inc.resolved_at, inc.last_seen, inc.occurrences) == ("resolved", later, later, 1)
    assert inc.dirty


def test_tool_acknowledge_acknowledges_a_new_incident_once(acme):
    _, inc = apply_alert(None, alert(), acme)
    inc.dirty = False
    later = T0 + timedelta(minutes=2)
    assert apply_alert(inc, alert(status="acknowledged", at=later), acme) == ("acknowledged", inc)
    assert (inc.state, inc.acknowledged_at, inc.dirty) == ("acknowledged", later, True)
    inc.dirty = False
    # A second acknowledge (a tool's retry, or after a human acknowledged) changes nothing.
    assert apply_alert(inc, alert(status="acknowledged", at=later + timedelta(1)), acme) == ("ack_ignored", inc)
    assert (inc.acknowledged_at, inc.dirty) == (later, False)
    assert apply_alert(None, alert(status="acknowledged"), acme) == ("ack_ignored", None)


def test_resolve_with_nothing_open_is_ignored(acme):
    assert apply_alert(None, alert(status="resolved"), acme) == ("resolve_ignored", None)


@pytest.mark.parametrize(
    ("state", "action", "after"),
    [
        ("new", "acknowledge", "acknowledged"),
        ("new", "resolve", "resolved"),
        ("acknowledged", "resolve", "resolved"),
    ],
)
def test_legal_transitions(state, action, after):
    assert transition(state, action) == after


@pytest.mark.parametrize(
    ("state", "action", "allowed"),
    [
        ("acknowledged", "acknowledge", ["resolve"]),
        ("resolved", "resolve", []),
        ("resolved", "acknowledge", []),
        ("new", "reopen", ["acknowledge", "resolve"]),
        ("closed", "resolve", []),
    ],
)
def test_illegal_transitions_list_what_is_allowed(state, action, allowed):
    with pytest.raises(IllegalTransition) as info:
        transition(state, action)
    assert (info.value.state, info.value.action, info.value.allowed) == (state, action, allowed)
    assert str(info.value) == f"cannot {action} an incident that is {state}"
