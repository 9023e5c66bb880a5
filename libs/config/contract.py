"""A tenant's contract: coverage hours, SLA targets per priority, availability and service credits."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from libs.config.base import (
    LEVELS,
    PRIORITIES,
    Criticality,
    Duration,
    Level,
    Priority,
    Strict,
    Weekday,
)


class Coverage(Strict):
    """When SLA clocks count: all the time, or business hours in the tenant's time zone."""

    hours: Literal["24x7", "business"] = "24x7"
    timezone: str = "UTC"
    days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    extra_holidays: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name like Europe/London)") from None
        return v

    @model_validator(mode="after")
    def _window(self) -> Coverage:
        if self.hours == "business" and self.start >= self.end:
            raise ValueError("coverage start must be before end")
        return self

    @property
    def label(self) -> str:
        if self.hours == "24x7":
            return "24x7"
        return f"{self.start:%H:%M}-{self.end:%H:%M} {','.join(self.days)} {self.timezone}"


class SlaTarget(Strict):
    respond: Duration
    resolve: Duration


class ServiceCredits(Strict):
    """What the provider owes below target: `percent_per_step` % of the monthly fee for each started
    `step_pct` % of availability under the target, capped at `cap_pct` % (summed over services)."""

    monthly_fee: Annotated[float, Field(gt=0)]
    currency: str = "EUR"
    percent_per_step: Annotated[float, Field(gt=0, le=100)] = 5.0
    step_pct: Annotated[float, Field(gt=0)] = 0.1
    cap_pct: Annotated[float, Field(gt=0, le=100)] = 50.0


class Availability(Strict):
    """How reporting measures each service's availability against the contract."""

    target_pct: Annotated[float, Field(gt=0, le=100)] = 99.9
    per_service: dict[str, Annotated[float, Field(gt=0, le=100)]] = {}  # CI id -> its own target
    downtime_priorities: list[Priority] = ["P1"]  # an open incident of these priorities on a CI is downtime
    exclude_change_windows: bool = True  # approved change windows do not count as downtime
    credits: ServiceCredits | None = None


class Contract(Strict):
    tier: str
    coverage: Coverage = Coverage()
    sla: dict[Priority, SlaTarget]
    availability: Availability = Availability()
    sla_compliance_target_pct: Annotated[float, Field(gt=0, le=100)] = 95.0  # drawn on the report's chart
    # Fractions of a target at which an SLA warning fires (the breach is 1.0).
    warn_at: list[Annotated[float, Field(gt=0, lt=1)]] = [0.75, 0.9]
    # Pending customer always pauses the resolution clock; pending vendor only if the contract says so.
    pause_on_vendor: bool = False

    @field_validator("warn_at")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if v != sorted(set(v)):
            raise ValueError("warning fractions must be distinct and ascending, e.g. [0.75, 0.9]")
        return v

    # impact (rows) x urgency (columns) -> priority; None: the ITIL default (services/triage/domain.py)
    priority_matrix: dict[Level, dict[Level, Priority]] | None = None
    # CI criticality -> impact, so a contract's tier can weigh CIs higher; None: the ITIL default
    impact_by_criticality: dict[Criticality, Level] | None = None

    @field_validator("priority_matrix")
    @classmethod
    def _all_cells(cls, v: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]] | None:
        if v is not None and any(set(v.get(i, {})) != set(LEVELS) for i in LEVELS):
            raise ValueError("priority_matrix needs all nine cells: high/medium/low impact x high/medium/low urgency")
        return v

    @field_validator("impact_by_criticality")
    @classmethod
    def _all_criticalities(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None and set(v) != {"critical", "high", "medium", "low"}:
            raise ValueError("impact_by_criticality needs critical, high, medium and low")
        return v

    @field_validator("sla")
    @classmethod
    def _all_priorities(cls, v: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        missing = [p for p in PRIORITIES if p not in v]
        if missing:
            raise ValueError(f"SLA targets missing for {', '.join(missing)}")
        return v
