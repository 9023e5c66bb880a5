"""A tenant's contract: coverage hours, SLA targets per priority, availability and service credits; and its
versions over time (a list of contracts, each from its `effective_from`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

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


def _date_or_datetime(value: object) -> object:
    """An ISO 8601 date or date-time (YAML gives either already); anything else is left for pydantic to refuse."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value) if len(value.strip()) == 10 else datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO date or date-time: {value!r} (e.g. 2025-11-15 or 2025-11-15T12:00)") from None
    return value


EffectiveFrom = Annotated[datetime | date, BeforeValidator(_date_or_datetime)]


class Contract(Strict):
    # When this version takes effect: a date (midnight) or date-time in its coverage time zone, or with an offset.
    # The first version may omit it: in force since always (docs/configuration.md, "Contracts over time").
    effective_from: EffectiveFrom | None = None
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

    @property
    def starts_at(self) -> datetime | None:
        """`effective_from` as an instant (UTC): a date is midnight, a time without offset is wall-clock time, both
        in this version's coverage time zone."""
        when = self.effective_from
        if when is None:
            return None
        zone = ZoneInfo(self.coverage.timezone)
        if not isinstance(when, datetime):
            when = datetime.combine(when, time(0), zone)
        elif when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(UTC)


_VERSIONS = TypeAdapter(list[Contract])


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("contract_versions", message), loc=loc, input=value)


def contract_terms(value: Any) -> Contract | list[Contract]:
    """A tenant's `contract`: one mapping (one version, errors at `contract.sla...`) or a list of versions
    (errors at `contract.1.effective_from`), sorted by `effective_from`, only the first without one."""
    if isinstance(value, Contract):
        return value
    if not isinstance(value, list | tuple):
        return Contract.model_validate(value)
    versions = _VERSIONS.validate_python(list(value))
    errors = [] if versions else [_error((), "a list of contract versions needs at least one", value)]
    previous: datetime | None = None
    for i, v in enumerate(versions):
        starts = v.starts_at
        if i and starts is None:
            errors.append(_error((i, "effective_from"), "every version after the first needs effective_from", None))
        elif starts is not None and previous is not None and starts <= previous:
            why = f"must be after the previous version's ({previous.isoformat()}): versions are listed in order"
            errors.append(_error((i, "effective_from"), why, str(v.effective_from)))
        previous = starts or previous
    currencies = {v.availability.credits.currency for v in versions if v.availability.credits}
    if len(currencies) > 1:
        errors.append(_error((), f"service credits of every version need one currency, not {sorted(currencies)}", 0))
    if errors:
        raise ValidationError.from_exception_data("Contract", errors)
    return versions


@dataclass(frozen=True)
class ContractSpan:
    """A contract version and the part of a period it was in force."""

    start: datetime
    end: datetime
    contract: Contract
    number: int  # the version's place in the tenant's list, from 1


def version_at(versions: tuple[Contract, ...], at: datetime) -> Contract:
    """The version in force at `at`. Before the first version's `effective_from`, the first: some contract is always
    in force, and the earliest known terms are the best reading of a time before it."""
    found = versions[0]
    for v in versions[1:]:
        if v.starts_at is None or v.starts_at > at:
            break
        found = v
    return found


def spans(versions: tuple[Contract, ...], start: datetime, end: datetime) -> list[ContractSpan]:
    """Each version in force during [start, end), clipped to it, in order (one span for a single contract)."""
    bounds = [(v.starts_at if i else None) for i, v in enumerate(versions)] + [None]
    out = []
    for i, v in enumerate(versions):
        a = max(start, bounds[i]) if bounds[i] else start
        b = min(end, bounds[i + 1]) if bounds[i + 1] else end
        if a < b:
            out.append(ContractSpan(a, b, v, i + 1))
    return out
