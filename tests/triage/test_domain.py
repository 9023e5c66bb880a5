"""Triage's pure rules: the priority matrix (every cell), impact and urgency, category, routing, lifecycle."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from libs.config import load_config
from libs.contracts import AlertReceived
from libs.lifecycle import IllegalTransition
from services.triage.domain.grouping import Grouping
from services.triage.domain.incident import STATES, assess, priority, transition
from services.triage.domain.rules import classify, route
from tests.triage.conftest import TRIAGE_CONFIG

AT = datetime(2025, 11, 1, tzinfo=UTC)

ITIL = {
    ("high", "high"): "P1", ("high", "medium"): "P2", ("high", "low"): "P3",
    ("medium", "high"): "P2", ("medium", "medium"): "P3", ("medium", "low"): "P4",
    ("low", "high"): "P3", ("low", "medium"): "P4", ("low", "low"): "P5",
}  # fmt: skip
# The triage test config gives initech a stricter contract matrix: everything one step more urgent.
INITECH = {
    ("high", "high"): "P1", ("high", "medium"): "P1", ("high", "low"): "P2",
    ("medium", "high"): "P1", ("medium", "medium"): "P2", ("medium", "low"): "P3",
    ("low", "high"): "P2", ("low", "medium"): "P3", ("low", "low"): "P4",
}  # fmt: skip


@pytest.fixture(scope="module")
def tc():
    return load_config(TRIAGE_CONFIG)


@pytest.mark.parametrize(("cell", "expected"), sorted(ITIL.items()))
def test_itil_default_matrix_every_cell(tc, cell, expected):
    assert priority(*cell) == expected
    assert priority(*cell, tc.tenant("acme").contract_at(AT)) == expected  # a contract without its own matrix: ITIL's


@pytest.mark.parametrize(("cell", "expected"), sorted(INITECH.items()))
def test_contract_matrix_every_cell(tc, cell, expected):
    assert priority(*cell, tc.tenant("initech").contract_at(AT)) == expected


@pytest.mark.parametrize(
    ("tenant", "ci", "severity", "expected"),
    [
        ("acme", "erp-db", "critical", ("high", "high", "P1", "infrastructure")),  # critical CI
        ("acme", "erp-db", "error", ("high", "medium", "P2", "infrastructure")),
        ("acme", "office-wifi", "warning", ("low", "low", "P5", "network")),  # low CI
        ("acme", "office-wifi", "info", ("low", "low", "P5", "network")),
        ("acme", "not-declared", "critical", ("medium", "high", "P2", None)),
        ("acme", None, "error", ("medium", "medium", "P3", None)),
        ("globex", "erp-db", "error", ("medium", "medium", "P3", None)),  # another tenant's CI is unknown here
        # initech's contract weighs a medium-criticality CI as high impact, and has its own matrix.
        ("initech", "fileserver", "warning", ("high", "low", "P2", "infrastructure")),
    ],
)
def test_assess_impact_from_ci_urgency_from_severity(tc, tenant, ci, severity, expected):
    assert assess(tc.tenant(tenant), ci, severity, AT) == expected


def test_the_matrix_and_impact_are_the_contracts_in_force_when_the_alert_arrived(tc):
    """Acme moves to initech's terms (its own matrix, medium CIs weighed high) from 15 Nov 2025, in UTC."""
    acme, initech = tc.tenant("acme"), tc.tenant("initech")
    terms = {"priority_matrix": initech.contract.priority_matrix,
             "impact_by_criticality": initech.contract.impact_by_criticality}  # fmt: skip
    later = acme.contract.model_copy(update={"effective_from": datetime(2025, 11, 15, tzinfo=UTC), **terms})
    moved = type(acme).model_validate(
        acme.model_dump() | {"contract": [acme.contract.model_dump(), later.model_dump()]}
    )
    before, after = datetime(2025, 11, 14, 23, 59, tzinfo=UTC), datetime(2025, 11, 15, tzinfo=UTC)
    # erp-db is critical (high impact either way); a critical alert is high urgency: ITIL P1, initech's P1 too;
    # an error (medium urgency) is ITIL's P2 but initech's P1 (one step more urgent).
    assert assess(moved, "erp-db", "error", before) == ("high", "medium", "P2", "infrastructure")
    assert assess(moved, "erp-db", "error", after) == ("high", "medium", INITECH[("high", "medium")], "infrastructure")
    assert INITECH[("high", "medium")] == "P1"


def test_category_rules_come_before_the_ci(tc):
    acme = tc.tenant("acme")
    assert classify(acme, "infrastructure", "generic", {}) == "infrastructure"
    assert classify(acme, "infrastructure", "guardduty", {}) == "security"  # rule on source
    assert classify(acme, None, "generic", {"team": "dba"}) == "data"  # rule on labels
    assert classify(acme, None, "generic", {"team": "other"}) is None


@pytest.mark.parametrize(
    ("category", "prio", "ci", "labels", "expected"),
    [
        ("security", "P1", None, {}, (2, "security", "security-major")),
        ("security", "P2", "erp-db", {}, (2, "security", "security-major")),
        ("security", "P3", None, {}, (1, "tier-1", None)),  # only major security incidents skip Tier 1
        ("network", "P1", "office-wifi", {}, (1, "network", "wifi-to-network")),
        ("infrastructure", "P4", "erp-db", {"team": "dba"}, (3, "dba", "dba-label")),
        ("infrastructure", "P1", "erp-db", {}, (1, "tier-1", None)),  # default: Tier 1
    ],
)
def test_routing_first_matching_rule_wins(tc, category, prio, ci, labels, expected):
    r = route(tc.tenant("acme"), category, prio, ci, labels)
    assert (r.tier, r.queue, r.rule) == expected


def test_default_routing_sends_major_security_incidents_to_tier_2(config):
    r = route(config.tenant("acme"), "security", "P1", None, {})  # the shared test config sets no rules
    assert (r.tier, r.queue, r.rule) == (2, "security", "security-major")


# The whole lifecycle, written out independently of the table in services/triage/domain.py.
LEGAL = {
    ("new", "acknowledge"): "acknowledged",
    ("new", "start"): "in_progress",
    ("new", "resolve"): "resolved",
    ("acknowledged", "start"): "in_progress",
    ("acknowledged", "hold"): "on_hold",
    ("acknowledged", "resolve"): "resolved",
    ("in_progress", "hold"): "on_hold",
    ("in_progress", "resolve"): "resolved",
    ("on_hold", "resume"): "in_progress",
    ("on_hold", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "in_progress",
}
ACTIONS = ("acknowledge", "start", "hold", "resume", "resolve", "close", "reopen")
ALL = list(itertools.product(("new", "acknowledged", "in_progress", "on_hold", "resolved", "closed"), ACTIONS))


def test_states():
    assert STATES == ("new", "acknowledged", "in_progress", "on_hold", "resolved", "closed")


@pytest.mark.parametrize(("state", "action"), [p for p in ALL if p in LEGAL])
def test_every_legal_transition(state, action):
    assert transition(state, action) == LEGAL[(state, action)]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL if p not in LEGAL])
def test_every_illegal_transition_lists_what_is_allowed(state, action):
    with pytest.raises(IllegalTransition) as info:
        transition(state, action)
    allowed = sorted(a for (s, a) in LEGAL if s == state)
    assert (info.value.state, info.value.action, info.value.allowed) == (state, action, allowed)
    assert str(info.value) == f"cannot {action} an incident that is {state}"


def test_a_request_by_mail_opens_a_service_request_and_any_other_alert_an_incident(tc):
    """AlertReceived's optional `kind`: `request` (a mail to a tenant's request address) opens a service
    request taken by e-mail; an event without it (every format, every event from before it) an incident."""
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    base = {"alert_id": "a1", "source": "email", "integration": "acme+requests", "dedup_key": "k1",
            "status": "firing", "severity": "error", "summary": "a laptop", "received_at": at}  # fmt: skip
    grouping, acme = Grouping({}, {}, {}, {}), tc.tenant("acme")
    request = grouping.apply(AlertReceived.model_validate({**base, "kind": "request"}), acme)
    older = grouping.apply(AlertReceived.model_validate({**base, "alert_id": "a2", "dedup_key": "k2"}), acme)
    assert request.incident and (request.incident.type, request.incident.channel) == ("request", "email")
    assert older.incident and (older.incident.type, older.incident.channel) == ("incident", "alert")
