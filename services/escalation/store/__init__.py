"""Escalation's only SQL, one module per table: `sla_clocks`, `escalation_runs`, `notifications` (with their
attempts). Rows come out as the domain's records (SlaClock, EscalationRun, Delivery) and go back in from them,
column by name; a batch writes each table with one statement (unnest arrays)."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Claimed(Generic[R]):
    """The rows a worker claimed, and its transaction's time (`now()`): the instant they fire at."""

    at: datetime
    rows: list[R]


@lru_cache(maxsize=4096)
def snapshot(text: str) -> Any:
    """A stored JSON snapshot (a contract's coverage, a policy's steps, its targets), parsed once per distinct
    text: thousands of incidents share a handful. Shared between records, so read it, never change it."""
    return json.loads(text)


def arrays(records: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    """One list per named attribute: the arrays of an `unnest(...)` that writes many records in one statement."""
    return [[getattr(r, n) for r in records] for n in names]


def assignments(names: Sequence[str], first: int) -> str:
    """`a = $first, b = $first+1, ...`: the SET list of an update that writes these columns from a record."""
    return ", ".join(f"{n} = ${first + i}" for i, n in enumerate(names))


def inserted(records: Sequence[R], returned: Iterable[Hashable], key: Callable[[R], Hashable]) -> list[R]:
    """The records an `INSERT ... ON CONFLICT DO NOTHING RETURNING <key>` wrote, in order, as they were given
    (nothing about them changed on the way, so they are not read back). Rows go in in order: of two records
    with one key in a batch, the first. A key that came back unlike any given (an incident id not in its
    canonical form) is an error: the batch rolls back rather than start clocks without their events."""
    fresh = set(returned)
    found = []
    for r in records:
        if key(r) in fresh:
            fresh.discard(key(r))
            found.append(r)
    if fresh:
        raise ValueError(f"rows written for keys not given as such: {sorted(map(str, fresh))}")
    return found
