"""Escalation policy runs (pure): where an incident's escalation policy stands, the step after one ran out, the
step for a tier the incident reached, and when a step runs out in the contract's coverage time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from libs.calendar import Calendar, calendar_for
from libs.config import EscalationStep, Tenant
from libs.contracts import IncidentOpened
from libs.events import Envelope
from services.escalation.domain.clock import sla_snapshot
from services.escalation.domain.notifications import Incident, Notification, notifications_for, step_targets

RunState = Literal["running", "acknowledged", "exhausted", "closed"]


@dataclass(frozen=True, kw_only=True)
class PolicyStep:
    """One step of a policy as stored with the incident, so a config change leaves open incidents alone."""

    tier: int
    after_s: float  # how long the step waits for an acknowledgement, in coverage time
    group: str | None = None
    notify: tuple[str, ...] = ()  # the tenant's targets paged when the step starts

    @classmethod
    def of(cls, step: EscalationStep) -> PolicyStep:
        return cls(tier=step.tier, after_s=step.after.total_seconds(), group=step.group, notify=tuple(step.notify))

    def snapshot(self) -> dict[str, Any]:
        return {"tier": self.tier, "after_s": self.after_s, "group": self.group, "notify": list(self.notify)}


@dataclass(frozen=True, kw_only=True)
class EscalationRun:
    """An incident as escalation knows it, and its policy's position (fields as stored)."""

    incident_id: str
    tenant: str
    number: str
    title: str
    priority: str
    category: str | None
    policy: str
    steps: tuple[PolicyStep, ...]
    repeat: int  # after the last step, run the steps again this many times
    coverage: dict[str, Any]  # step delays count in the contract's coverage time
    step: int
    round: int = 0
    tier: int  # the highest tier applied or requested
    step_started_at: datetime
    step_due_at: datetime | None  # when the step runs out unacknowledged; None once nothing is running
    state: RunState = "running"
    sla: dict[str, dict[str, float]]  # every priority's targets at opening, for priority changes
    # Who each schedule the current step pages had on call when it was last looked at, and when that changes
    # next (the handoff worker pages the incoming person then); empty and None when no schedule is paged.
    on_call: dict[str, str | None] = field(default_factory=dict)
    handoff_at: datetime | None = None
    cal: Calendar = field(repr=False, compare=False)  # `coverage`, built once per record

    @classmethod
    def open(cls, opened: IncidentOpened, tenant: Tenant) -> EscalationRun:
        """The run of a newly opened incident, already on its first step: the first at or above its tier."""
        policy, configured, repeat = tenant.escalation.for_category(opened.category)
        steps = tuple(PolicyStep.of(s) for s in configured)
        contract = tenant.contract_at(opened.opened_at)  # the one its clocks started under
        coverage = contract.coverage.model_dump(mode="json")
        cal = calendar_for(contract.coverage)
        first = first_step(steps, opened.tier)
        return cls(
            incident_id=opened.incident_id,
            tenant=tenant.id,
            number=opened.number,
            title=opened.title,
            priority=opened.priority,
            category=opened.category,
            policy=policy,
            steps=steps,
            repeat=repeat,
            coverage=coverage,
            step=first,
            tier=max(opened.tier, steps[first].tier),
            step_started_at=opened.opened_at,
            step_due_at=cal.add(opened.opened_at, steps[first].after_s),
            sla=sla_snapshot(tenant, opened.opened_at),
            cal=cal,
        )

    @property
    def incident(self) -> Incident:
        return Incident(self.incident_id, self.number, self.title, self.priority, self.tier)

    @property
    def current(self) -> PolicyStep:
        return self.steps[self.step]

    def start_step(self, step: int, round_: int, at: datetime, **changes: Any) -> EscalationRun:
        """On `step` from `at` (with `changes`), due when its delay has passed in coverage time."""
        due = self.cal.add(at, self.steps[step].after_s)
        return replace(self, step=step, round=round_, step_started_at=at, step_due_at=due, **changes)

    def advance(self, at: datetime) -> EscalationRun:
        """The step ran out unacknowledged at `at`: on to the next step (and its tier, if higher), or, after the
        last round, exhausted."""
        found = next_step(self.step, self.round, len(self.steps), self.repeat)
        if found is None:
            return replace(self, state="exhausted", step_due_at=None)
        step, round_ = found
        return self.start_step(step, round_, at, tier=max(self.tier, self.steps[step].tier))

    def reach(self, tier: int, at: datetime) -> tuple[EscalationRun, bool]:
        """The incident reached (or was asked up to) `tier`: a running policy jumps to its first step from here
        at that tier or above (True: a step started); with no such step, or once acknowledged, only the tier is
        remembered (False)."""
        highest = max(self.tier, tier)
        step = step_for_tier(self.steps, tier, self.step)
        if step is None or self.state != "running":
            return replace(self, tier=highest), False
        return self.start_step(step, self.round, at, tier=highest), True

    def rerun(self, at: datetime) -> EscalationRun:
        """Back in the queue, never acknowledged: the policy runs again from the step for the incident's tier."""
        return self.start_step(first_step(self.steps, self.tier), 0, at, state="running")

    def end(self, state: RunState) -> EscalationRun | None:
        """Acknowledged, closed or exhausted: nothing more runs out, no handoff pages anyone. An acknowledged or
        exhausted run is ended again only by closing (None: unchanged)."""
        if self.state != "running" and state != "closed":
            # An exhausted policy pages nobody more by steps, but still at handoffs: until now.
            return replace(self, handoff_at=None) if self.handoff_at is not None else None
        return replace(self, state=state, step_due_at=None, handoff_at=None)

    def pages(self, tenant: Tenant | None, cause: Envelope) -> list[Notification]:
        """The notifications of the step the run is on to the tenant's targets it names, caused by its
        `escalation.step_started` (the people it pages: paging.page_step)."""
        if tenant is None or not self.current.notify:
            return []
        targets = step_targets(tenant, self.current.notify)
        if not targets:
            return []
        return notifications_for(tenant, trigger="step", incident=self.incident, cause=cause, targets=targets)


def first_step(steps: Sequence[PolicyStep], tier: int) -> int:
    """A policy starts at its first step at or above the incident's tier, else at its last step."""
    found = step_for_tier(steps, tier, 0)
    return len(steps) - 1 if found is None else found


def next_step(step: int, round_: int, n_steps: int, repeat: int) -> tuple[int, int] | None:
    """The (step, round) after `step` ran out unacknowledged; None when the policy is exhausted."""
    if step + 1 < n_steps:
        return step + 1, round_
    if round_ < repeat:
        return 0, round_ + 1
    return None


def step_for_tier(steps: Sequence[PolicyStep], tier: int, current: int) -> int | None:
    """Where the policy continues once the incident reached `tier`: the first step from `current` on at that
    tier or above; None when no later step is that high (the policy carries on where it is)."""
    for i, s in enumerate(steps):
        if i >= current and s.tier >= tier:
            return i
    return None
