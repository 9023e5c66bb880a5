"""Scheduling rules: freezes, maintenance windows, conflicts with other booked changes (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.config import load_config
from services.change.domain.changes import ChangeRequest
from services.change.domain.schedule import (
    InFreeze,
    ScheduleConflict,
    booking_conflicts,
    check_schedule,
    maintenance_conflicts,
    overlaps,
)
from tests.conftest import TEST_CONFIG

ACME = load_config(TEST_CONFIG).tenant("acme")
assert ACME
H = timedelta(hours=1)
# A Saturday in summer: London is UTC+1, so the router's 01:00-05:00 window is 00:00-04:00 UTC.
SAT = datetime(2030, 6, 1, tzinfo=UTC)
FROZEN = datetime(2030, 12, 24, 10, tzinfo=UTC)


def booked(
    number: str, start: datetime, *, cis: list[str], state: str = "scheduled", implementer: str | None = None
) -> ChangeRequest:
    return ChangeRequest(
        id=number,
        tenant="acme",
        number=number,
        change_type="normal",
        ci=cis[0],
        title=number,
        description=None,
        state=state,
        requested_by="alice",
        quorum=2,
        created_at=start,
        updated_at=start,
        cis=cis,
        planned_start=start,
        planned_end=start + H,
        implementer=implementer,
    )


def test_windows_are_half_open() -> None:
    assert overlaps(SAT, SAT + H, SAT + H / 2, SAT + 2 * H)
    assert not overlaps(SAT, SAT + H, SAT + H, SAT + 2 * H)


def test_maintenance_window_in_the_cis_time_zone_across_days() -> None:
    assert maintenance_conflicts(ACME, ["core-router"], SAT + H, SAT + 3 * H) == []  # 02:00-04:00 London
    [miss] = maintenance_conflicts(ACME, ["core-router"], SAT + 3 * H, SAT + 5 * H)  # runs past 05:00
    assert (miss.kind, miss.ci) == ("outside_maintenance_window", "core-router")
    friday = SAT - timedelta(days=1) + 2 * H
    assert maintenance_conflicts(ACME, ["core-router"], friday, friday + H)  # not a maintenance day
    assert maintenance_conflicts(ACME, ["erp-db"], friday, friday + H) == []  # no windows: any time


def test_booking_conflicts_on_shared_ci_and_implementer() -> None:
    mine = booked("ACME-CHG-9", SAT, cis=["erp-db", "office-wifi"], state="approved", implementer="eve")
    others = [
        booked("ACME-CHG-1", SAT + H / 2, cis=["office-wifi"]),
        booked("ACME-CHG-2", SAT + H / 2, cis=["core-router"], implementer="eve"),
        booked("ACME-CHG-3", SAT + H, cis=["erp-db"]),  # starts as mine ends
        booked("ACME-CHG-4", SAT, cis=["erp-db"], state="completed"),  # no longer holds the CI
    ]
    found = [(c.kind, c.number, c.ci) for c in booking_conflicts(mine, others)]
    assert found == [("ci_overlap", "ACME-CHG-1", "office-wifi"), ("implementer_double_booked", "ACME-CHG-2", None)]


def test_freeze_refuses_normal_changes_and_lets_emergencies_override_with_a_reason() -> None:
    change = booked("ACME-CHG-9", FROZEN, cis=["erp-db"], state="approved")
    with pytest.raises(InFreeze) as exc:
        check_schedule(ACME, change, [], override_reason="customer asked")
    assert exc.value.details[0]["freeze"] == "year-end"
    change.change_type = "emergency"
    with pytest.raises(InFreeze):
        check_schedule(ACME, change, [], override_reason=None)
    [taken] = check_schedule(ACME, change, [], override_reason="security fix")
    assert (taken["kind"], taken["reason"]) == ("change_freeze", "security fix")


def test_conflicts_block_unless_overridden() -> None:
    change = booked("ACME-CHG-9", SAT, cis=["erp-db"], state="approved")
    other = booked("ACME-CHG-1", SAT, cis=["erp-db"])
    with pytest.raises(ScheduleConflict) as exc:
        check_schedule(ACME, change, [other], override_reason=None)
    assert exc.value.details == [
        {"kind": "ci_overlap", "message": exc.value.details[0]["message"], "ci": "erp-db"}
        | {"change_id": "ACME-CHG-1", "number": "ACME-CHG-1"}
    ]
    [taken] = check_schedule(ACME, change, [other], override_reason="same team, same outage")
    assert taken["kind"] == "schedule_conflict" and taken["details"] == exc.value.details
    assert check_schedule(ACME, change, [], override_reason=None) == []
