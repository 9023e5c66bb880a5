"""SlaClock and EscalationRun alone (pure): what a stop, pause, resume, priority change, reopen or firing does
to a clock in coverage time, and how a policy run moves through its steps, tiers and rounds; and which of a
batch of records an insert wrote."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from libs.calendar import calendar_for
from services.escalation.domain.clock import SlaClock
from services.escalation.domain.run import EscalationRun, PolicyStep
from services.escalation.store import inserted

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
CAL = calendar_for({"hours": "24x7"})


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def clock(**changes) -> SlaClock:
    """A 24x7 response clock started at T0 with a 100 s target, warning at 75 % and 90 %."""
    c = SlaClock(incident_id="i-1", clock="response", tenant="acme", number="ACME-1", priority="P2", tier=1,
                 calendar="24x7", target_s=100.0, started_at=T0, due_at=s(100), coverage=CAL.spec(),
                 warn_at=(0.75, 0.9), next_fire_at=s(75), started_tier=1, cal=CAL)  # fmt: skip
    return replace(c, **changes)


def test_stopping_a_paused_clock_counts_the_pause_up_to_the_stop():
    stopped = clock(paused_at=s(10)).stop(s(30))
    assert (stopped.stopped_at, stopped.paused_at, stopped.paused_s, stopped.next_fire_at) == (s(30), None, 20, None)
    assert stopped.counted_s(s(30)) == 10


def test_a_pause_and_its_resume_move_deadline_and_warnings_by_the_time_paused():
    paused = clock().pause(s(10), "pending_customer")
    assert paused is not None and paused.next_fire_at is None and paused.due_at == s(100)
    restart = paused.resume(s(40))
    assert restart is not None
    assert (restart.at, restart.gap_s) == (s(40), 30)
    assert (restart.clock.due_at, restart.clock.next_fire_at, restart.clock.paused_s) == (s(130), s(105), 30)
    assert restart.clock.paused_at is None and restart.clock.pause_reason is None


def test_a_resume_stamped_before_its_pause_counts_no_time_back():
    restart = clock(paused_at=s(10)).resume(s(5))
    assert restart is not None and (restart.at, restart.gap_s, restart.clock.due_at) == (s(10), 0, s(100))


def test_nothing_to_pause_or_resume():
    assert clock(paused_at=s(10)).pause(s(20), "pending_customer") is None  # already paused
    assert clock(breached_at=s(100)).pause(s(120), "pending_customer") is None  # nothing left to protect
    assert clock().resume(s(20)) is None


def test_retarget_counts_from_the_same_start_and_keeps_fired_warnings():
    after = clock(warned=1, paused_s=10).retarget("P1", 200.0)
    assert (after.priority, after.target_s, after.due_at, after.next_fire_at) == ("P1", 200, s(210), s(190))
    paused = clock(paused_at=s(50)).retarget("P1", 200.0)
    assert (paused.due_at, paused.next_fire_at) == (s(200), None)  # it fires again once resumed


def test_reopen_counts_the_time_resolved_like_a_pause():
    restart = clock(stopped_at=s(50), next_fire_at=None).reopen(s(80))
    assert (restart.gap_s, restart.clock.stopped_at, restart.clock.due_at, restart.clock.next_fire_at) == (
        30,
        None,
        s(130),
        s(105),
    )
    breached = clock(stopped_at=s(150), breached_at=s(100), next_fire_at=None).reopen(s(160))
    assert breached.clock.next_fire_at is None  # a breach fired once stays a fact


def test_firing_takes_every_point_due_then_schedules_the_next():
    early = clock().fire(s(95))
    assert (early.warnings, early.breached) == (((0.75, s(75)), (0.9, s(90))), False)
    assert (early.clock.warned, early.clock.next_fire_at, early.clock.breached_at) == (2, s(100), None)
    late = clock().fire(s(200))
    assert len(late.warnings) == 2 and late.breached and late.late
    assert (late.clock.breached_at, late.clock.fired_late, late.clock.next_fire_at) == (s(200), True, None)
    on_time = clock(warned=2).fire(s(101))
    assert on_time.warnings == () and on_time.breached and not on_time.late


def test_a_breach_asks_one_tier_above_the_tier_that_owed_the_response():
    assert clock(tier=3, started_tier=1).escalates_to() == 2
    assert clock(clock="resolution").escalates_to() is None


STEPS = (PolicyStep(tier=1, after_s=60), PolicyStep(tier=2, after_s=120), PolicyStep(tier=3, after_s=300))


def run(**changes) -> EscalationRun:
    r = EscalationRun(incident_id="i-1", tenant="acme", number="ACME-1", title="ERP down", priority="P1",
                      category=None, policy="default", steps=STEPS, repeat=1, coverage=CAL.spec(), step=0, tier=1,
                      step_started_at=T0, step_due_at=s(60), sla={}, cal=CAL)  # fmt: skip
    return replace(r, **changes)


def test_a_run_advances_step_by_step_raising_the_tier_then_repeats_then_is_exhausted():
    second = run().advance(s(60))
    assert (second.step, second.round, second.tier, second.step_started_at, second.step_due_at) == (
        1,
        0,
        2,
        s(60),
        s(180),
    )
    again = run(step=2, tier=3).advance(s(400))
    assert (again.step, again.round, again.tier, again.step_due_at) == (0, 1, 3, s(460))  # the tier never goes down
    done = run(step=2, round=1, tier=3).advance(s(900))
    assert (done.state, done.step_due_at) == ("exhausted", None)


def test_reaching_a_tier_moves_a_running_policy_to_its_step():
    moved, stepped = run().reach(3, s(10))
    assert stepped and (moved.step, moved.tier, moved.step_due_at) == (2, 3, s(310))
    kept, stepped = run(state="acknowledged", step_due_at=None).reach(3, s(10))
    assert not stepped and (kept.step, kept.tier, kept.step_due_at) == (0, 3, None)


def test_a_rerun_starts_again_from_the_step_for_the_tier():
    again = run(state="acknowledged", step=2, round=1, tier=2, step_due_at=None).rerun(s(1000))
    assert (again.state, again.step, again.round, again.step_due_at) == ("running", 1, 0, s(1120))


def test_an_ended_run_ends_again_only_by_closing():
    acknowledged = run().end("acknowledged")
    assert acknowledged is not None and (acknowledged.state, acknowledged.step_due_at) == ("acknowledged", None)
    assert acknowledged.end("acknowledged") is None
    assert acknowledged.end("closed").state == "closed"  # type: ignore[union-attr]


def test_inserted_records_are_those_written_in_order_the_first_of_a_key():
    a, b, a2 = clock(incident_id="a"), clock(incident_id="b"), clock(incident_id="a", priority="P1")
    found = inserted([a, b, a2], ["a"], key=lambda c: c.incident_id)
    assert found == [a] and found[0].priority == "P2"  # the second of one key in a batch conflicted


def test_a_key_written_unlike_any_given_is_an_error_not_a_silent_gap():
    with pytest.raises(ValueError, match="not given"):
        inserted([clock(incident_id="ABC")], ["abc"], key=lambda c: c.incident_id)
