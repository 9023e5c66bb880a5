"""On-call schedule maths, pure and table-driven: rotations across DST both ways, a rotation length that does not
divide a week, a handoff inside a restriction window, overrides over a handoff, layers and gaps
(services/escalation/domain/schedules.py; the rules are docs/oncall.md's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from libs.config import Schedule
from services.escalation.domain.schedules import Override, final_shifts, instant, next_handoff, on_call

LONDON, NEW_YORK = "Europe/London", "America/New_York"


def schedule(tz: str, *layers: dict) -> Schedule:
    return Schedule.model_validate({"id": "s", "name": "S", "timezone": tz, "layers": list(layers)})


def layer(users, length, start, restrictions=(), name="l1"):
    return {"name": name, "users": users, "rotation": {"length": length}, "start": start,
            "restrictions": list(restrictions)}  # fmt: skip


def local(tz: str, text: str) -> datetime:
    """'2026-03-29 09:00' on the wall clock in `tz`, as a UTC instant."""
    return instant(datetime.fromisoformat(text), ZoneInfo(tz))


def rendered(s: Schedule, start: str, end: str, overrides=()) -> list[tuple[str, str, str]]:
    """(user, start, end) of the final shifts between two wall-clock times, as wall-clock times again."""
    tz = ZoneInfo(s.timezone)
    found = final_shifts(s, list(overrides), local(s.timezone, start), local(s.timezone, end))
    wall = lambda t: t.astimezone(tz).strftime("%a %m-%d %H:%M")  # noqa: E731
    return [(x.user, wall(x.start), wall(x.end)) for x in found]


def hours(s: Schedule, start: str, end: str) -> list[tuple[str, float]]:
    found = final_shifts(s, [], local(s.timezone, start), local(s.timezone, end))
    return [(x.user, (x.end - x.start).total_seconds() / 3600) for x in found]


# A weekly handoff at Monday 09:00 stays at 09:00 local when the clocks change, in both directions.
WEEKLY = [
    (LONDON, "2026-03-23 09:00", "2026-04-06 09:00", [
        ("sam", "Mon 03-23 09:00", "Mon 03-30 09:00"), ("ann", "Mon 03-30 09:00", "Mon 04-06 09:00")]),
    (LONDON, "2026-10-19 09:00", "2026-11-02 09:00", [
        ("sam", "Mon 10-19 09:00", "Mon 10-26 09:00"), ("ann", "Mon 10-26 09:00", "Mon 11-02 09:00")]),
    (NEW_YORK, "2026-03-02 09:00", "2026-03-16 09:00", [
        ("ann", "Mon 03-02 09:00", "Mon 03-09 09:00"), ("sam", "Mon 03-09 09:00", "Mon 03-16 09:00")]),
    (NEW_YORK, "2026-10-26 09:00", "2026-11-09 09:00", [
        ("ann", "Mon 10-26 09:00", "Mon 11-02 09:00"), ("sam", "Mon 11-02 09:00", "Mon 11-09 09:00")]),
]  # fmt: skip


@pytest.mark.parametrize(("tz", "start", "end", "expected"), WEEKLY)
def test_a_weekly_handoff_keeps_its_local_time_across_dst(tz, start, end, expected):
    s = schedule(tz, layer(["ann", "sam"], "1w", "2026-01-05T09:00:00"))
    assert rendered(s, start, end) == expected


# 12 h turns from 08:00 and 20:00: the night the clocks go forward lasts 11 hours, the night they go back 13.
TWELVE_HOURS = [
    (LONDON, "2026-03-28 08:00", "2026-03-29 20:00", [("ann", 12), ("sam", 11), ("ann", 12)]),
    (LONDON, "2026-10-24 08:00", "2026-10-25 20:00", [("ann", 12), ("sam", 13), ("ann", 12)]),
    (NEW_YORK, "2026-03-07 08:00", "2026-03-08 20:00", [("ann", 12), ("sam", 11), ("ann", 12)]),
    (NEW_YORK, "2026-10-31 08:00", "2026-11-01 20:00", [("ann", 12), ("sam", 13), ("ann", 12)]),
]  # fmt: skip


@pytest.mark.parametrize(("tz", "start", "end", "expected"), TWELVE_HOURS)
def test_twelve_hour_turns_follow_the_wall_clock_through_dst(tz, start, end, expected):
    s = schedule(tz, layer(["ann", "sam"], "12h", "2026-01-01T08:00:00"))
    assert hours(s, start, end) == expected


def test_a_handoff_at_a_time_the_clocks_skip_happens_at_the_jump_and_a_repeated_time_at_its_first():
    s = schedule(LONDON, layer(["ann", "sam"], "1d", "2026-03-01T01:30:00"))
    spring = final_shifts(s, [], local(LONDON, "2026-03-28 12:00"), local(LONDON, "2026-03-30 12:00"))
    # 01:30 on 29 March does not exist in London: the handoff is at the jump, 01:00 UTC (02:00 BST).
    assert [x.start for x in spring[1:]] == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC), local(LONDON, "2026-03-30 01:30")]
    autumn = final_shifts(s, [], local(LONDON, "2026-10-24 12:00"), local(LONDON, "2026-10-26 12:00"))
    # 01:30 on 25 October happens twice: the handoff is at the first (BST, 00:30 UTC).
    assert autumn[1].start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert len({x.user for x in autumn}) == 2 and autumn[0].user == autumn[2].user != autumn[1].user


def test_a_rotation_length_that_does_not_divide_a_week_walks_through_the_weekdays():
    s = schedule(LONDON, layer(["ann", "sam", "max"], "3d", "2026-06-01T09:00:00"))  # a Monday
    assert rendered(s, "2026-06-01 09:00", "2026-06-16 09:00") == [
        ("ann", "Mon 06-01 09:00", "Thu 06-04 09:00"),
        ("sam", "Thu 06-04 09:00", "Sun 06-07 09:00"),
        ("max", "Sun 06-07 09:00", "Wed 06-10 09:00"),
        ("ann", "Wed 06-10 09:00", "Sat 06-13 09:00"),
        ("sam", "Sat 06-13 09:00", "Tue 06-16 09:00"),
    ]


def test_a_handoff_inside_a_restriction_window_splits_it():
    business = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}]
    s = schedule(LONDON, layer(["ann", "sam"], "1d", "2026-06-01T12:00:00", business))  # handoff at noon
    assert rendered(s, "2026-06-04 00:00", "2026-06-09 00:00") == [
        ("ann", "Thu 06-04 08:00", "Thu 06-04 12:00"),
        ("sam", "Thu 06-04 12:00", "Thu 06-04 18:00"),
        ("sam", "Fri 06-05 08:00", "Fri 06-05 12:00"),
        ("ann", "Fri 06-05 12:00", "Fri 06-05 18:00"),
        # the weekend: nobody (a gap), while the turns count on underneath
        ("ann", "Mon 06-08 08:00", "Mon 06-08 12:00"),
        ("sam", "Mon 06-08 12:00", "Mon 06-08 18:00"),
    ]


def test_a_night_restriction_runs_past_midnight_and_keeps_local_time_across_dst():
    nights = [{"days": ["sat"], "start": "20:00", "end": "06:00"}]
    s = schedule(LONDON, layer(["ann"], "1w", "2026-01-05T09:00:00", nights))
    assert rendered(s, "2026-03-28 00:00", "2026-03-30 00:00") == [("ann", "Sat 03-28 20:00", "Sun 03-29 06:00")]
    assert hours(s, "2026-03-28 00:00", "2026-03-30 00:00") == [("ann", 9)]  # the clocks went forward that night


def test_an_override_spanning_a_handoff_wins_over_both_turns():
    s = schedule(LONDON, layer(["ann", "sam"], "1w", "2026-01-05T09:00:00"))
    carol = Override("o1", "carol", local(LONDON, "2026-03-29 18:00"), local(LONDON, "2026-03-30 12:00"),
                     created_at=datetime(2026, 3, 1, tzinfo=UTC))  # fmt: skip
    assert rendered(s, "2026-03-29 00:00", "2026-03-31 00:00", [carol]) == [
        ("sam", "Sun 03-29 00:00", "Sun 03-29 18:00"),
        ("carol", "Sun 03-29 18:00", "Mon 03-30 12:00"),
        ("ann", "Mon 03-30 12:00", "Tue 03-31 00:00"),
    ]
    shift = on_call(s, [carol], local(LONDON, "2026-03-30 10:00"))
    assert (shift.user, shift.override_id, shift.layer) == ("carol", "o1", None)
    # The same override moves the handoffs: sam -> carol at 18:00, carol -> ann at 12:00 the next day.
    assert next_handoff(s, [carol], local(LONDON, "2026-03-29 10:00")) == local(LONDON, "2026-03-29 18:00")
    assert next_handoff(s, [carol], local(LONDON, "2026-03-29 19:00")) == local(LONDON, "2026-03-30 12:00")


def test_the_newest_of_overlapping_overrides_wins():
    s = schedule(LONDON, layer(["ann"], "1w", "2026-01-05T09:00:00"))
    older = Override("o1", "sam", local(LONDON, "2026-06-02 00:00"), local(LONDON, "2026-06-04 00:00"),
                     created_at=datetime(2026, 5, 1, tzinfo=UTC))  # fmt: skip
    newer = Override("o2", "max", local(LONDON, "2026-06-03 00:00"), local(LONDON, "2026-06-03 12:00"),
                     created_at=datetime(2026, 5, 2, tzinfo=UTC))  # fmt: skip
    assert [u for u, _, _ in rendered(s, "2026-06-01 00:00", "2026-06-05 00:00", [newer, older])] == [
        "ann", "sam", "max", "sam", "ann",
    ]  # fmt: skip


def test_a_later_layer_wins_where_it_has_someone_and_a_gap_is_a_gap():
    weekdays = layer(["ann", "sam"], "1w", "2026-01-05T09:00:00",
                     [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}])  # fmt: skip
    weekend = layer(["max"], "1w", "2026-01-05T09:00:00", [{"days": ["sat", "sun"], "start": "00:00", "end": "00:00"}],
                    name="weekend")  # fmt: skip
    s = schedule(LONDON, weekdays, weekend)
    assert rendered(s, "2026-06-05 00:00", "2026-06-09 00:00") == [
        ("sam", "Fri 06-05 08:00", "Fri 06-05 18:00"),
        ("max", "Sat 06-06 00:00", "Mon 06-08 00:00"),  # the weekend layer wins where it has someone
        ("sam", "Mon 06-08 08:00", "Mon 06-08 09:00"),
        ("ann", "Mon 06-08 09:00", "Mon 06-08 18:00"),  # the weekly handoff, inside Monday's window
    ]
    assert on_call(s, [], local(LONDON, "2026-06-05 20:00")) is None  # Friday night: nobody
    assert next_handoff(s, [], local(LONDON, "2026-06-05 20:00")) == local(LONDON, "2026-06-06 00:00")


def test_the_same_person_on_by_another_layer_is_no_handoff_and_before_its_start_a_layer_has_nobody():
    base = layer(["ann"], "1d", "2026-06-01T00:00:00")
    cover = layer(["ann"], "1d", "2026-06-03T00:00:00", [{"start": "12:00", "end": "13:00"}], name="lunch")
    s = schedule(LONDON, base, cover)
    at = local(LONDON, "2026-06-03 11:00")
    assert next_handoff(s, [], at) is None  # ann all along, by one layer or the other
    sam = Override("o1", "sam", at + timedelta(hours=3), at + timedelta(hours=4), created_at=at)
    assert next_handoff(s, [sam], at) == at + timedelta(hours=3)
    assert final_shifts(s, [], local(LONDON, "2026-05-30 00:00"), local(LONDON, "2026-06-01 00:00")) == []
