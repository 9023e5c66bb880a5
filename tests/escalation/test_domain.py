"""Escalation's pure rules: clock plans from the contract, tier escalation on breach, lateness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.escalation.domain import ClockPlan, escalation_after_breach, is_late, plan_clocks

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def test_plan_clocks_uses_the_contract_targets(config):
    plans = plan_clocks(config.tenant("acme"), "P1", T0)
    assert plans == [
        ClockPlan("response", timedelta(seconds=2), T0 + timedelta(seconds=2), "24x7"),
        ClockPlan("resolution", timedelta(hours=1), T0 + timedelta(hours=1), "24x7"),
    ]


@pytest.mark.parametrize(
    ("tenant", "prio", "respond", "resolve"),
    [
        ("acme", "P2", timedelta(seconds=3), timedelta(hours=2)),
        ("acme", "P5", timedelta(hours=8), timedelta(days=5)),
        ("globex", "P1", timedelta(minutes=30), timedelta(hours=8)),
        ("globex", "P3", timedelta(hours=4), timedelta(days=2)),
    ],
)
def test_plan_clocks_per_priority_and_tenant(config, tenant, prio, respond, resolve):
    response, resolution = plan_clocks(config.tenant(tenant), prio, T0)
    assert (response.clock, response.target, response.due_at) == ("response", respond, T0 + respond)
    assert (resolution.clock, resolution.target, resolution.due_at) == ("resolution", resolve, T0 + resolve)


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
