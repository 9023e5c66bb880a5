"""Escalation's pure rules: clock plans from the contract (in coverage time, with warning points), pauses,
policy steps, tier escalation on breach, lateness, notification targets, signatures and retry schedule."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from libs.calendar import calendar_for
from libs.config import Notifications, NotificationTarget, Tenant
from services.escalation.domain.clock import SlaClock, escalation_after_breach, is_late, pauses, plan_clocks
from services.escalation.domain.notifications import Incident, body_for, retry_delay, sign, targets_for
from services.escalation.domain.run import PolicyStep, next_step, step_for_tier

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)  # a Tuesday


def test_plan_clocks_uses_the_contract_targets_and_keeps_the_contract(config):
    response, resolution = plan_clocks(config.tenant("acme"), "P1", T0)
    assert (response.clock, response.target, response.due_at) == (
        "response",
        timedelta(seconds=2),
        T0 + timedelta(seconds=2),
    )
    assert (resolution.clock, resolution.target, resolution.due_at) == (
        "resolution",
        timedelta(hours=1),
        T0 + timedelta(hours=1),
    )
    assert response.calendar == "24x7" and response.coverage["hours"] == "24x7"
    assert response.warn_at == (0.75, 0.9)
    assert response.next_fire_at == T0 + timedelta(seconds=1.5)  # the first warning, at 75 %


@pytest.mark.parametrize(
    ("tenant", "prio", "respond", "resolve"),
    [
        ("acme", "P2", timedelta(seconds=3), timedelta(hours=2)),
        ("acme", "P5", timedelta(hours=8), timedelta(days=5)),
    ],
)
def test_plan_clocks_per_priority(config, tenant, prio, respond, resolve):
    response, resolution = plan_clocks(config.tenant(tenant), prio, T0)
    assert (response.target, response.due_at) == (respond, T0 + respond)
    assert (resolution.target, resolution.due_at) == (resolve, T0 + resolve)


def test_business_hours_contract_counts_in_its_own_zone(config):
    # Globex: 07:00-19:00 New York, weekdays. Opened Saturday: the 30 min response runs Monday 07:00-07:30 EST.
    saturday = datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
    response, _ = plan_clocks(config.tenant("globex"), "P1", saturday)
    assert response.due_at == datetime(2025, 3, 10, 11, 30, tzinfo=UTC)  # EDT from 9 March: 07:30 local
    assert response.calendar.startswith("07:00-19:00") and response.coverage["timezone"] == "America/New_York"


def test_contract_change_does_not_touch_a_plan_already_made(config):
    acme = config.tenant("acme")
    before = plan_clocks(acme, "P1", T0)
    sla = {**acme.contract.sla, "P1": acme.contract.sla["P1"].model_copy(update={"respond": timedelta(hours=1)})}
    changed = acme.model_copy(update={"contract": acme.contract.model_copy(update={"sla": sla})})
    assert plan_clocks(changed, "P1", T0)[0].due_at == T0 + timedelta(hours=1)
    assert before[0].due_at == T0 + timedelta(seconds=2)  # what the open incident's clock stored


def test_clocks_and_policy_run_take_the_contract_in_force_when_the_incident_opened(config):
    """Globex (business hours, New York) moves to a 24x7 contract with a 5-minute P1 response from 15 Nov 2025."""
    from libs.contracts import IncidentOpened
    from services.escalation.domain.run import EscalationRun

    globex = config.tenant("globex")
    sla = {**globex.contract.sla, "P1": globex.contract.sla["P1"].model_copy(update={"respond": timedelta(minutes=5)})}
    premium = globex.contract.model_copy(
        update={"effective_from": datetime(2025, 11, 15).date(), "tier": "premium", "sla": sla,
                "coverage": globex.contract.coverage.model_copy(update={"hours": "24x7"})}
    )  # fmt: skip
    moved = Tenant.model_validate(
        globex.model_dump() | {"contract": [globex.contract.model_dump(), premium.model_dump()]}
    )
    # Saturday 15 Nov 2025 03:00 UTC is Friday 14 Nov 22:00 in New York: still the standard contract (30 minutes of
    # business hours, so due Monday 17 Nov 07:30 EST = 12:30 UTC). At 05:00 UTC it is midnight there: premium.
    before, after = datetime(2025, 11, 15, 3, 0, tzinfo=UTC), datetime(2025, 11, 15, 5, 0, tzinfo=UTC)
    assert plan_clocks(moved, "P1", before)[0].due_at == datetime(2025, 11, 17, 12, 30, tzinfo=UTC)
    response = plan_clocks(moved, "P1", after)[0]
    assert (response.due_at, response.calendar) == (after + timedelta(minutes=5), "24x7")
    opened = {"incident_id": "i", "number": "GLOBEX-1", "title": "t", "priority": "P1", "impact": "high",
              "urgency": "high", "category": None, "ci": None, "tier": 1, "dedup_key": None, "source": "generic",
              "opened_at": after}  # fmt: skip
    run = EscalationRun.open(IncidentOpened.model_validate(opened), moved)
    assert run.coverage["hours"] == "24x7" and run.sla["P1"]["response"] == 300


def clock(cal, started, target_s, paused_s, warn_at, warned):
    return SlaClock(incident_id="i", clock="response", tenant="acme", number="ACME-1", priority="P1", tier=1,
                    calendar=cal.label, target_s=target_s, started_at=started, due_at=started, coverage=cal.spec(),
                    warn_at=warn_at, warned=warned, paused_s=paused_s, started_tier=1, cal=cal)  # fmt: skip


def fire_points(*clock_terms):
    return clock(*clock_terms).fire_points()


def test_fire_points_warnings_then_breach_and_pause_moves_them_all():
    cal = calendar_for({"hours": "24x7"})
    points = fire_points(cal, T0, 100.0, 0.0, (0.75, 0.9), 0)
    assert points == [(0.75, T0 + timedelta(seconds=75)), (0.9, T0 + timedelta(seconds=90)),
                      (1.0, T0 + timedelta(seconds=100))]  # fmt: skip
    after_one = fire_points(cal, T0, 100.0, 30.0, (0.75, 0.9), 1)
    assert after_one == [(0.9, T0 + timedelta(seconds=120)), (1.0, T0 + timedelta(seconds=130))]


@pytest.mark.parametrize(
    ("reason", "on_vendor", "paused"),
    [("pending_customer", False, True), ("pending_customer", True, True),
     ("pending_vendor", False, False), ("pending_vendor", True, True)],
)  # fmt: skip
def test_which_holds_pause(reason, on_vendor, paused):
    assert pauses(reason, pause_on_vendor=on_vendor) is paused


@pytest.mark.parametrize(
    ("step", "round_", "n", "repeat", "after"),
    [(0, 0, 3, 0, (1, 0)), (2, 0, 3, 0, None), (2, 0, 3, 2, (0, 1)), (2, 2, 3, 2, None), (0, 0, 1, 1, (0, 1))],
)  # fmt: skip
def test_next_step(step, round_, n, repeat, after):
    assert next_step(step, round_, n, repeat) == after


STEPS = [PolicyStep(tier=t, after_s=60.0) for t in (1, 1, 2, 3, 3)]


@pytest.mark.parametrize(
    ("tier", "current", "step"), [(1, 0, 0), (1, 1, 1), (2, 0, 2), (3, 1, 3), (3, 3, 3), (3, 4, 4), (2, 5, None)]
)
def test_step_for_tier(tier, current, step):
    assert step_for_tier(STEPS, tier, current) == step


@pytest.mark.parametrize(
    ("clock", "tier", "next_tier"),
    [("response", 1, 2), ("response", 2, 3), ("response", 3, None),
     ("resolution", 1, None), ("resolution", 2, None), ("resolution", 3, None)],
)  # fmt: skip
def test_escalation_after_breach(clock, tier, next_tier):
    assert escalation_after_breach(clock, tier) == next_tier


@pytest.mark.parametrize(
    ("fired_after_due", "late"),
    [(timedelta(seconds=-1), False), (timedelta(0), False), (timedelta(seconds=5), False),
     (timedelta(seconds=5, milliseconds=1), True), (timedelta(minutes=10), True)],
)  # fmt: skip
def test_is_late(fired_after_due, late):
    assert is_late(T0, T0 + fired_after_due) is late


def tenant_with(config, **notifications) -> Tenant:
    return config.tenant("acme").model_copy(update={"notifications": Notifications(**notifications)})


def test_targets_for_triggers_and_opened_priorities(config):
    hook = NotificationTarget(name="hook", kind="webhook", url="http://x", secret="s")
    chat = NotificationTarget(name="chat", kind="slack", url="http://y", triggers=["sla_breached"])
    t = tenant_with(config, targets=[hook, chat], triggers=["opened", "sla_breached"])
    assert targets_for(t, "opened", "P1") == [hook]
    assert targets_for(t, "opened", "P3") == []  # opened notifies at P1/P2 only, by default
    assert targets_for(t, "sla_breached", "P3") == [hook, chat]
    assert targets_for(t, "resolved", "P1") == []


def test_slack_and_email_bodies():
    inc = Incident("id-1", "ACME-1", "ERP down", "P1", 1)
    event = {"type": "sla.breached", "data": {"clock": "response", "due_at": "2025-03-04T10:00:00Z"}}
    slack = body_for("slack", notification_id="n", tenant="acme", trigger="sla_breached", incident=inc, event=event)
    assert slack["text"] == "[P1] ACME-1 ERP down: response SLA breached (due 2025-03-04 10:00 UTC)"
    mail = body_for("email", notification_id="n", tenant="acme", trigger="sla_breached", incident=inc, event=event)
    assert mail["subject"] == slack["text"] and "Tenant: acme" in mail["text"]


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"a": 1}'
    expected = hmac.new(b"k", b'1700000000.{"a": 1}', hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == f"v1={expected}"


def test_retry_delay_doubles_up_to_a_cap():
    assert [retry_delay(n, base_s=2) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert retry_delay(30, base_s=2) == 600
