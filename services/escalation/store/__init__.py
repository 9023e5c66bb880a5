"""Escalation's only SQL, one module per table: `sla_clocks`, `escalation_runs`, `notifications` (with their
attempts). Rows come out as the domain's records (SlaClock, EscalationRun, Delivery) and go back in from them,
column by name; a batch writes each table with one statement (unnest arrays)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Claimed(Generic[R]):
    """The rows a worker claimed, and its transaction's time (`now()`): the instant they fire at."""

    at: datetime
    rows: list[R]


def arrays(records: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    """One list per named attribute: the arrays of an `unnest(...)` that writes many records in one statement."""
    return [[getattr(r, n) for r in records] for n in names]


def assignments(names: Sequence[str], first: int) -> str:
    """`a = $first, b = $first+1, ...`: the SET list of an update that writes these columns from a record."""
    return ", ".join(f"{n} = ${first + i}" for i, n in enumerate(names))
