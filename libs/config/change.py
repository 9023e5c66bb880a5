"""Change management: CAB boards and rules, standard-change templates, freezes (the change service)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated

from pydantic import (
    Field,
    model_validator,
)

from libs.config.base import (
    Category,
    Duration,
    Risk,
    Strict,
)


def eligible_voters(members: Iterable[str], delegates: Iterable[str], requester: str) -> set[str]:
    """Who may cast a board's votes on a change `requester` raised: its members but the requester (nobody
    approves their own change), and its delegates in the requester's place when the requester is a member."""
    members = set(members)
    stand_in = set(delegates) if requester in members else set()
    return (members | stand_in) - {requester}


class CabRule(Strict):
    """A board for changes on CIs of `category` and/or assessed at `risk` (unset matches any)."""

    category: Category | None = None
    risk: Risk | None = None
    members: list[str] | None = None  # None: the tenant's CAB members
    delegates: list[str] | None = None  # None: the tenant's CAB delegates
    quorum: Annotated[int, Field(ge=1)]
    emergency_quorum: Annotated[int, Field(ge=1)] | None = None  # None: the tenant's emergency_quorum


@dataclass(frozen=True)
class BoardSpec:
    """One board as configured: the tenant's CAB (`cab`) or one of its rules (`cab.rules.0`)."""

    name: str
    members: tuple[str, ...]
    delegates: tuple[str, ...]
    quorum: int
    emergency_quorum: int
    rule: CabRule | None = None

    @property
    def label(self) -> str:
        """`cab.rules.0 (network, high risk; members alice, bob)`: the board as a person finds it in the file."""
        scope = [self.rule.category, f"{self.rule.risk} risk" if self.rule.risk else None] if self.rule else []
        parts = [", ".join(p for p in scope if p), f"members {', '.join(self.members) or 'none'}"]
        return f"{self.name} ({'; '.join(p for p in parts if p)})"


class Cab(Strict):
    members: list[str] = []
    # People who may vote in place of a member who raised the change (a member may not vote on their own).
    delegates: list[str] = []
    quorum: Annotated[int, Field(ge=1)] = 1
    emergency_quorum: Annotated[int, Field(ge=1)] = 1
    rules: list[CabRule] = []
    # A normal change also needs an approval from one of the tenant's own `client_approver` users.
    client_approval: bool = False
    # Rejections that reject a change (1: any rejection rejects).
    rejections: Annotated[int, Field(ge=1)] = 1

    def board(self, rule: CabRule | None) -> BoardSpec:
        """The board a change answers to when `rule` matched (None: the tenant's CAB itself)."""
        if rule is None:
            return BoardSpec("cab", tuple(self.members), tuple(self.delegates), self.quorum, self.emergency_quorum)
        return BoardSpec(
            f"cab.rules.{self.rules.index(rule)}",
            tuple(self.members if rule.members is None else rule.members),
            tuple(self.delegates if rule.delegates is None else rule.delegates),
            rule.quorum,
            rule.emergency_quorum or self.emergency_quorum,
            rule,
        )

    def quorum_warnings(self) -> list[str]:
        """One line per board whose quorum (or emergency quorum) cannot be met when one of its members raises
        the change and its delegates do not make up the difference: such a change would wait forever."""
        out = []
        for b in [self.board(None), *(self.board(r) for r in self.rules)]:
            if not b.members:
                continue  # no members, no board: a change under it is refused at the vote (quorum_unreachable)
            worst = min(b.members, key=lambda m: len(eligible_voters(b.members, b.delegates, m)))
            left = len(eligible_voters(b.members, b.delegates, worst))
            short = [f"{kind} {q}" for kind, q in (("quorum", b.quorum), ("emergency quorum", b.emergency_quorum))
                     if q > left]  # fmt: skip
            if short:
                out.append(
                    f"{b.label}: {' and '.join(short)} cannot be met when {worst} raises a change ({left} eligible "
                    f"voter{'s' if left != 1 else ''}); add delegates to {b.name} in tierline.yaml"
                )
        return out


class ChangeTemplate(Strict):
    """A pre-approved standard change: created from here, scheduled on submit without a CAB vote."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    title: Annotated[str, Field(min_length=1, max_length=255)]
    cis: list[str] = Field(min_length=1)  # the CIs it may be applied to
    description: str | None = None
    max_duration: Duration | None = None


class FreezeWindow(Strict):
    """A blackout (e.g. year-end): normal and standard changes may not be scheduled into it."""

    name: str
    start: datetime
    end: datetime
    cis: list[str] = []  # empty: every CI of the tenant

    @model_validator(mode="after")
    def _order(self) -> FreezeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("freeze start and end need a UTC offset, e.g. 2026-12-20T00:00:00Z")
        if self.start >= self.end:
            raise ValueError("freeze start must be before end")
        return self


class ChangePolicy(Strict):
    templates: list[ChangeTemplate] = []
    freezes: list[FreezeWindow] = []
    # An incident opened on a changed CI this long after the change's implementation ended is linked to it.
    incident_link_window: Duration = timedelta(hours=24)
    # Implementation may start this long before the approved window; earlier, or after the window has
    # ended, `start` is refused (409 outside_window) unless it carries an override_reason, recorded.
    early_start: Duration = timedelta(hours=1)

    @cached_property
    def template_index(self) -> dict[str, ChangeTemplate]:
        return {t.id: t for t in self.templates}
