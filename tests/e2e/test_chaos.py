"""Quick variants of the chaos suite's experiments (bench/chaos.py) that no other e2e test covers: two replicas of
every service with one of each killed, and a three-node NATS cluster losing a follower, then the stream's leader.
A few hundred alerts in the four formats, faults of seconds, and the harness's own checks: nothing lost, nothing
doubled, numbers contiguous, one clock of each kind per incident, deadlines and notifications once, the report equal
after a ledger rebuild. (kill -9 of a service, SIGSTOP of triage, NATS and PostgreSQL restarts have their own e2e
tests: test_crash, test_backpressure, test_broker_restart, test_postgres_outage.)"""

from __future__ import annotations

import pytest

from bench.chaos import BY_NAME, Outcome, run_experiment

pytestmark = pytest.mark.slow
ALERTS, RATE = 300, 40  # 7.5 s of sending; the faults land inside it


def accepted_during(outcome: Outcome, start: float, end: float) -> int:
    return sum(1 for t, _ in outcome.sender.accepted.values() if start < t < end)


def assert_clean(outcome: Outcome) -> None:
    v = outcome.verdict
    assert (v.accepted, v.unaccepted) == (ALERTS, 0)
    assert (v.lost, v.doubled, v.numbers_wrong, v.clocks_wrong) == (0, 0, 0, 0)
    assert (v.deadlines_wrong, v.notifications_missing, v.dead_letters) == (0, 0, 0)
    # No notification queued twice. A replica killed between a send and its record sends that one delivery again
    # after its lease, with the same Tierline-Delivery (at least once, as docs/sla.md says): the table counts it,
    # a test cannot forbid it.
    assert v.notifications_doubled == v.notifications_resent
    assert v.report_equal


async def test_two_replicas_of_each_service_one_killed_lose_and_double_nothing(tmp_path, real_servers):
    outcome = await run_experiment(BY_NAME["replicas"], alerts=ALERTS, rate=RATE, short=True, tmp=tmp_path,
                                   admin_db_url=real_servers.admin_db_url)  # fmt: skip
    assert_clean(outcome)
    [fault] = outcome.faults
    # While one intake of the two was dead, the other kept answering 202 (a request in flight to the killed one may
    # fail, and is retried as a load balancer would).
    assert accepted_during(outcome, fault.start, fault.end) > 0


async def test_a_three_node_nats_cluster_losing_a_follower_then_the_leader_loses_and_doubles_nothing(
    tmp_path, real_servers
):
    outcome = await run_experiment(BY_NAME["nats-cluster"], alerts=ALERTS, rate=RATE, short=True, tmp=tmp_path,
                                   admin_db_url=real_servers.admin_db_url)  # fmt: skip
    assert_clean(outcome)
    assert outcome.notes["stream_replicas"] == 3  # TIERLINE_STREAM_REPLICAS reached the stream
    follower, leader = outcome.faults
    killed = outcome.notes["leader_killed"]
    assert f"n{killed}" in leader.label and outcome.notes["leader_without_leader"] != killed  # another took over
    # With one node of three gone the cluster kept its quorum: alerts were accepted while it was away.
    assert accepted_during(outcome, follower.start, follower.end) > 0
