"""One incident's SLA explanation after a priority change and a reopen (pure, from ledger events)."""

from __future__ import annotations

from services.reporting.domain.explain import explain
from services.reporting.domain.stories import Event, incident_stories
from tests.reporting.month import Inc, iso, t


def story_of(inc: Inc):
    return next(iter(incident_stories(Event(k, d, at) for k, at, d in inc.events).values()))


def test_retarget_and_reopen_are_explained_and_the_clock_runs_again():
    inc = Inc("R", "P3", "erp-db", "infrastructure", t(6, 9))
    inc = (
        inc.add("sla.clock_started", t(6, 9), **inc.clock("resolution"))  # one clock, as ledgers before issue 17
        .add("incident.priority_changed", t(6, 9, 30), from_priority="P3", to_priority="P2", reason="VIP user",
             by="eve", at=iso(t(6, 9, 30)))
        .add("sla.clock_retargeted", t(6, 9, 30), clock="resolution", from_priority="P3", priority="P2",
             target_s=14400.0, due_at=iso(t(6, 13)), at=iso(t(6, 9, 30)), calendar="24x7")
        .resolve(t(6, 10))
        .stopped("resolution", t(6, 10), met=True, coverage_s=3600)
        .add("incident.reopened", t(6, 11), by="eve", at=iso(t(6, 11)), reason="manual")
        .add("sla.clock_resumed", t(6, 11), clock="resolution", reason="reopened", resumed_at=iso(t(6, 11)),
             paused_s=3600.0, due_at=iso(t(6, 14)), calendar="24x7")
    )  # fmt: skip
    out = explain(story_of(inc))
    (clock,) = out["clocks"]
    assert out["priority"] == "P2"
    assert (clock["target_s"], clock["target"]) == (14400.0, "4 h")  # P2's target, not the 8 h it started with
    assert clock["outcome"] == "running"  # reopened: the earlier stop no longer decides
    assert [s["what"] for s in clock["steps"]] == ["started", "retargeted", "stopped", "resumed"]
    assert clock["steps"][1]["text"].startswith("priority P3 -> P2: target now 4 h")
    assert clock["steps"][3]["text"].startswith("reopened: counting again after 1 h resolved")

    # Resolved again: the second stop decides.
    inc.resolve(t(6, 12)).stopped("resolution", t(6, 12), met=True, coverage_s=7200, paused_s=3600)
    clock = explain(story_of(inc))["clocks"][0]
    assert clock["outcome"] == "met" and [s["what"] for s in clock["steps"]][-2:] == ["resumed", "stopped"]


def test_both_clocks_in_one_event_are_explained_as_two_clock_started_events():
    def inc(per_clock: bool) -> Inc:
        return (Inc("S", "P2", "erp-db", "infrastructure", t(6, 9)).started(per_clock=per_clock)
                .add("sla.breached", t(6, 10), clock="response", priority="P2", due_at=iso(t(6, 10)),
                     breached_at=iso(t(6, 10)), late=False, tier=1)
                .resolve(t(6, 12)).stopped("resolution", t(6, 12), met=True, coverage_s=10800))  # fmt: skip

    one, two = explain(story_of(inc(False))), explain(story_of(inc(True)))
    assert one == two and [c["clock"] for c in one["clocks"]] == ["response", "resolution"]
