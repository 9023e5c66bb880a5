"""The deadline timer: claims clocks with a warning or breach due and fires each point exactly once.

Firing (warned / breached_at / next_fire_at saved), the events raised and the notifications queued commit
in one transaction; SKIP LOCKED keeps replicas apart. A point that passed while the service was down is
simply due at start and fires then, marked late.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from prometheus_client import Counter, Histogram

from libs.calendar import calendar_from_json
from libs.config import TierlineConfig
from libs.contracts import SlaBreached, SlaWarning
from libs.events import Envelope, raise_event
from libs.outbox import Outbox, stage
from libs.timer import Polled, Poller
from services.escalation import store
from services.escalation.domain import BREACH, escalation_after_breach, fire_points, is_late
from services.escalation.notify import Incident
from services.escalation.outgoing import escalation_request, incident_of, notify, reach_tier

log = structlog.get_logger()
BREACHES = Counter("tierline_sla_breaches_total", "SLA breaches fired", ["clock", "priority"])
FIRE_DELAY = Histogram(
    "tierline_timer_fire_delay_seconds", "Deadline to firing", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30)
)
SOURCE = "escalation"


def _event(kind: str, payload: SlaBreached | SlaWarning, row: asyncpg.Record) -> Envelope:
    return raise_event(kind, payload, source=SOURCE, tenant=row["tenant"], subject=str(row["incident_id"]))


def breach_event(row: asyncpg.Record) -> Envelope:
    fired_at = row["fired_at"]
    payload = SlaBreached(
        incident_id=str(row["incident_id"]),
        number=row["number"],
        clock=row["clock"],
        priority=row["priority"],
        due_at=row["due_at"],
        breached_at=fired_at,
        late=is_late(row["due_at"], fired_at),
        tier=row["tier"],
        calendar=row["calendar"],
        target_s=row["target_s"],
    )
    return _event("sla.breached", payload, row)


def warning_event(row: asyncpg.Record, fraction: float, at: Any) -> Envelope:
    payload = SlaWarning(
        incident_id=str(row["incident_id"]),
        number=row["number"],
        clock=row["clock"],
        priority=row["priority"],
        fraction=fraction,
        warn_at=at,
        due_at=row["due_at"],
        fired_at=row["fired_at"],
        late=is_late(at, row["fired_at"]),
        tier=row["tier"],
        calendar=row["calendar"],
    )
    return _event("sla.warning", payload, row)


class DeadlineTimer(Polled):
    def __init__(
        self, pool: asyncpg.Pool, outbox: Outbox, config: TierlineConfig, *, poll_s: float, batch: int = 500
    ) -> None:
        self.pool, self.outbox, self.config, self.batch = pool, outbox, config, batch
        self.poller = Poller("deadline-timer", self.fire_due, poll_s=poll_s, batch=batch)

    async def fire_due(self) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_due(conn, limit=self.batch)
            if not rows:
                return 0
            events, saves, breaches = [], [], []
            for r in rows:
                fired, save = self._fire(r)
                events += fired
                saves.append(save)
                if save[3] is not None:
                    breaches.append((r, fired[-1]))
            await store.save_fired(conn, saves)
            events += await self._follow_up(conn, rows, events, breaches)
            await stage(conn, self.outbox.bus, events)
        self.outbox.kick()
        self._observe(rows, breaches)
        return len(rows)

    def _fire(self, r: asyncpg.Record) -> tuple[list[Envelope], tuple[Any, ...]]:
        """The points of one clock that are due now, as events, and the row's state after them."""
        cal = calendar_from_json(r["coverage"])
        warn = tuple(r["warn_at"])
        points = fire_points(cal, r["started_at"], r["target_s"], r["paused_s"], warn, r["warned"])
        events, warned, breached_at, late, next_at = [], r["warned"], None, None, None
        for fraction, at in points:
            if at > r["fired_at"]:
                next_at = at
                break
            if fraction == BREACH:
                breached_at, late = r["fired_at"], is_late(r["due_at"], r["fired_at"])
                events.append(breach_event(r))
            else:
                warned += 1
                events.append(warning_event(r, fraction, at))
        return events, (r["incident_id"], r["clock"], warned, breached_at, late, next_at)

    async def _follow_up(
        self, conn: asyncpg.Connection, rows: list[asyncpg.Record], events: list[Envelope], breaches: list[Any]
    ) -> list[Envelope]:
        """Notifications for every warning and breach; a response breach escalates one tier above the tier the
        clock started at (unless a step or a person already did) and moves the policy to that tier's step."""
        found = await store.runs(conn, incident_ids=[r["incident_id"] for r in rows], lock=True)
        runs = {str(r["incident_id"]): dict(r) for r in found}
        by_clock = {(str(r["incident_id"]), r["clock"]): r for r in rows}
        raised: list[Envelope] = []
        for env in events:
            row = by_clock[(env.data["incident_id"], env.data["clock"])]
            run = runs.get(env.data["incident_id"])
            incident = (
                incident_of(run)
                if run
                else Incident(env.data["incident_id"], row["number"], "", row["priority"], row["tier"])
            )
            trigger = "sla_breached" if env.short_type == "sla.breached" else "sla_warning"
            await notify(conn, self.config, tenant=row["tenant"], trigger=trigger, incident=incident, cause=env)
        for row, breach in breaches:
            # One tier above the tier that owed the response (the incident's when the clock started): a policy
            # step or a person that already took it there, even a moment ago, leaves the breach nothing to ask.
            to_tier = escalation_after_breach(row["clock"], row["started_tier"])
            run = runs.get(str(row["incident_id"]))
            if to_tier is None or max(row["tier"], run["tier"] if run else 0) >= to_tier:
                continue
            target = run or {"incident_id": row["incident_id"], "number": row["number"], "tenant": row["tenant"]}
            reason = f"{row['clock']} SLA breached"
            raised.append(
                escalation_request(
                    target, from_tier=row["tier"], to_tier=to_tier, reason=reason, at=row["fired_at"], cause=breach
                )
            )
            if run is not None:
                raised += await reach_tier(
                    conn, self.config, run, tier=to_tier, at=row["fired_at"], reason=reason, cause=breach
                )
        return raised

    def _observe(self, rows: list[asyncpg.Record], breaches: list[Any]) -> None:
        for r in rows:
            FIRE_DELAY.observe((r["fired_at"] - r["next_fire_at"]).total_seconds())
        for r, _ in breaches:
            BREACHES.labels(r["clock"], r["priority"]).inc()
            log.info(
                "sla.breached",
                tenant=r["tenant"],
                incident_id=str(r["incident_id"]),
                clock=r["clock"],
                late=is_late(r["due_at"], r["fired_at"]),
            )
