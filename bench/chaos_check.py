"""The chaos suite's invariants, checked once the stack has settled after a fault: every accepted alert in exactly
one incident, per-tenant numbers contiguous, one response and one resolution clock per incident, each deadline fired
once, each notification received once per target, and the report equal to one computed from a ledger rebuild.

`settle` and `verdict` are used by `bench/chaos.py` and by the quick variants in tests/e2e/test_chaos.py.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from bench.chaos_load import Alert, Sender
from bench.chaos_stack import Stack
from libs.bus import connect_bus
from libs.settings import Settings

ADMIN = {"Authorization": "Bearer chaos-admin-token"}
VOLATILE = {"generated_at", "computed_at", "as_of", "now"}  # fields of a report that say when it was computed


@dataclass
class Verdict:
    accepted: int  # alerts answered 202
    unaccepted: int  # alerts never answered 202 before the sender gave up, or refused with a 4xx
    lost: int  # accepted alerts in no incident
    doubled: int  # alerts stored twice, or a problem opened as two incidents
    numbers_wrong: int  # gaps and repeats in a tenant's incident numbers
    clocks_wrong: int  # incidents without exactly one response and one resolution clock
    deadlines_wrong: int  # warnings and breaches fired twice, or due and never fired
    notifications_doubled: int  # receipts beyond one per (target, trigger, incident)
    notifications_resent: int  # of those, the same delivery again (Tierline-Delivery): a retry after a timeout
    notifications_missing: int  # notifications expected at a target (opened, breached) never received
    dead_letters: int
    report_equal: bool  # every tenant's report before a ledger rebuild equals the one after it

    @property
    def clean(self) -> bool:
        return self.report_equal and not any(
            (self.unaccepted, self.lost, self.doubled, self.numbers_wrong, self.clocks_wrong, self.deadlines_wrong,
             self.notifications_doubled, self.notifications_missing, self.dead_letters)
        )  # fmt: skip


def settings_of(stack: Stack) -> Settings:
    return Settings(nats_url=stack.nats.url, database_url=stack.pg.url, bus_prefix=stack.prefix,
                    config=stack.tmp / "chaos.yaml", stream_replicas=len(stack.nats.nodes))  # fmt: skip


SETTLED = """SELECT
  (SELECT count(*) FROM triage.incident_alerts) AS alerts,
  (SELECT count(*) FROM triage.incidents) AS incidents,
  (SELECT count(*) FROM escalation.sla_clocks) AS clocks,
  (SELECT count(*) FROM escalation.sla_clocks WHERE next_fire_at < now() + interval '30 minutes') AS overdue,
  (SELECT count(*) FROM escalation.notifications WHERE status = 'pending') AS unsent,
  (SELECT count(*) FROM reporting.ledger WHERE type = 'incident.opened') AS ledger_opened,
  (SELECT count(*) FROM triage.outbox) + (SELECT count(*) FROM escalation.outbox)
    + (SELECT count(*) FROM reporting.outbox) + (SELECT count(*) FROM change.outbox) AS outbox"""


async def settle(stack: Stack, accepted: int, *, timeout: float = 300) -> dict[str, Any]:
    """Wait until everything accepted has gone all the way: consumers caught up, outboxes empty, every incident with
    its clocks and ledger row, every due deadline fired and every notification sent; the same twice, a second apart.
    Returns the last figures (checked by `verdict` whether or not it settled)."""
    loop = asyncio.get_running_loop()
    deadline, last, settings = loop.time() + timeout, None, settings_of(stack)
    while loop.time() < deadline:
        try:
            now = await _figures(settings)
        except Exception as exc:  # a dependency still coming back
            now = {"error": repr(exc)}
        done = now.get("alerts", -1) >= accepted and now.get("lag") == 0 and now.get("outbox") == 0
        done = done and now["clocks"] == 2 * now["incidents"] == 2 * now["ledger_opened"]
        done = done and now["overdue"] == 0 and now["unsent"] == 0  # every response clock fired, all sent
        if done and now == last:
            return now
        last = now if done else None
        await asyncio.sleep(1.0)
    return last or {}


async def _figures(settings: Settings) -> dict[str, Any]:
    conn = await asyncpg.connect(settings.database_url, timeout=5)
    try:
        row = dict(await conn.fetchrow(SETTLED))  # type: ignore[arg-type]
    finally:
        await conn.close()
    bus = await connect_bus(settings, name="chaos-probe")
    try:
        consumers = await bus.js.consumers_info(bus.stream)
        row["lag"] = sum(int(c.num_pending or 0) + int(c.num_ack_pending or 0) for c in consumers)
    finally:
        await bus.close()
    return row


async def verdict(stack: Stack, alerts: list[Alert], sender: Sender, http: aiohttp.ClientSession) -> Verdict:
    by_summary = {a.summary: a for a in alerts if a.seq in sender.accepted}
    conn = await asyncpg.connect(stack.pg.url)
    try:
        stored = await conn.fetch("SELECT tenant, summary, incident_id FROM triage.incident_alerts")
        numbers = await conn.fetch("SELECT tenant, number FROM triage.incidents")
        clocks = await clocks_wrong(conn)
        deadlines = await _deadlines_wrong(conn)
        incidents = [str(r["id"]) for r in await conn.fetch("SELECT id FROM triage.incidents")]
    finally:
        await conn.close()
    lost, doubled = _alerts_lost_and_doubled(by_summary, stored)
    doubled_n, resent_n, missing_n = _notifications(stack, incidents)
    bus = await connect_bus(settings_of(stack), name="chaos-probe")
    try:
        dead = (await bus.js.stream_info(bus.dead_letter_stream)).state.messages
    finally:
        await bus.close()
    return Verdict(
        accepted=len(sender.accepted), unaccepted=len(alerts) - len(sender.accepted), lost=lost, doubled=doubled,
        numbers_wrong=numbers_wrong(numbers), clocks_wrong=clocks, deadlines_wrong=deadlines,
        notifications_doubled=doubled_n, notifications_resent=resent_n, notifications_missing=missing_n,
        dead_letters=dead,
        report_equal=await report_equals_rebuild(stack, http),
    )  # fmt: skip


async def clocks_wrong(conn: asyncpg.Connection) -> int:
    """Incidents (triage's) without exactly one response and one resolution clock (escalation's)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM triage.incidents i WHERE (SELECT count(*) FROM escalation.sla_clocks c"
            " WHERE c.incident_id = i.id AND c.clock = 'response') <> 1 OR (SELECT count(*) FROM escalation.sla_clocks"
            " c WHERE c.incident_id = i.id AND c.clock = 'resolution') <> 1"
        )
    )


def _alerts_lost_and_doubled(by_summary: dict[str, Alert], stored: list[asyncpg.Record]) -> tuple[int, int]:
    seen = Counter(r["summary"] for r in stored)
    lost = sum(1 for s in by_summary if not seen[s])
    doubled = sum(n - 1 for n in seen.values() if n > 1)
    incidents_of: dict[tuple[str, str], set[str]] = {}  # a problem (tenant, dedup key) -> the incidents it is in
    for r in stored:
        if a := by_summary.get(r["summary"]):
            incidents_of.setdefault(a.key, set()).add(str(r["incident_id"]))
    return lost, doubled + sum(len(i) - 1 for i in incidents_of.values())


def numbers_wrong(rows: list[Any]) -> int:
    """Gaps and repeats in each tenant's incident numbers (rows with `tenant` and `number`, e.g. ACME-7): 0 when
    every tenant's run 1..n once each."""
    per: dict[str, list[int]] = {}
    for r in rows:
        per.setdefault(r["tenant"], []).append(int(r["number"].rsplit("-", 1)[1]))
    return sum(len(set(range(1, len(ns) + 1)) ^ set(ns)) + len(ns) - len(set(ns)) for ns in per.values())


async def _deadlines_wrong(conn: asyncpg.Connection) -> int:
    """Breaches and warnings in the ledger more than once per clock (and point), plus clocks past due never breached
    (or breached with no ledger row)."""
    twice = await conn.fetchval(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM reporting.ledger"
        " WHERE type IN ('sla.breached', 'sla.warning')"
        " GROUP BY type, data->>'incident_id', data->>'clock', data->>'fraction') AS t"
    )
    missed = await conn.fetchval(
        "SELECT count(*) FROM escalation.sla_clocks c WHERE c.stopped_at IS NULL AND c.due_at < now() - interval '2 s'"
        " AND NOT EXISTS (SELECT 1 FROM reporting.ledger l WHERE l.type = 'sla.breached'"
        " AND l.data->>'incident_id' = c.incident_id::text AND l.data->>'clock' = c.clock)"
    )
    return int(twice) + int(missed)


def _notifications(stack: Stack, incidents: list[str]) -> tuple[int, int, int]:
    """(doubled, of which the same delivery again, missing) at the receiver: each incident's target expects one
    `opened` and, its response clock running out unacknowledged, one `sla_breached`; a delivery received again, even
    with the same id, counts."""
    receipts = stack.receiver.receipts
    got = Counter((r.target, r.trigger, r.incident) for r in receipts)
    doubled = sum(n - 1 for n in got.values())
    resent = sum(n - 1 for n in Counter(r.delivery for r in receipts).values())
    seen = {(trigger, incident) for _, trigger, incident in got}
    missing = sum(1 for i in incidents for t in ("opened", "sla_breached") if (t, i) not in seen)
    return doubled, resent, missing


async def report_equals_rebuild(stack: Stack, http: aiohttp.ClientSession) -> bool:
    """Each tenant's service report, then `tierline reporting rebuild` (the ledger replayed from the stream), then
    the report again: the two must be equal but for when they were computed."""
    from services.reporting.rebuild import rebuild

    # A closed period ending now (everything has settled): "to now" would move between the two reports.
    end = datetime.now(UTC).replace(microsecond=0)
    period = {"from": (end - timedelta(days=1)).isoformat(), "to": end.isoformat()}
    before = [await _report(stack, http, t, period) for t in ("acme", "globex")]
    await rebuild(settings_of(stack))
    after = [await _report(stack, http, t, period) for t in ("acme", "globex")]
    for b, a in zip(before, after, strict=True):
        for where in _differences(b, a):
            print(f"report differs after the rebuild at {where}", file=sys.stderr)
    return before == after and all(before)


def _differences(b: Any, a: Any, path: str = "") -> list[str]:
    """Where two reports differ, e.g. `incidents.P3.count: 12 != 11` (the first 10)."""
    if isinstance(b, dict) and isinstance(a, dict):
        out = []
        for k in sorted(set(b) | set(a), key=str):
            out += _differences(b.get(k), a.get(k), f"{path}.{k}" if path else str(k))
        return out[:10]
    if isinstance(b, list) and isinstance(a, list) and len(b) == len(a):
        return [d for i, (x, y) in enumerate(zip(b, a, strict=True)) for d in _differences(x, y, f"{path}[{i}]")][:10]
    return [] if b == a else [f"{path}: {str(b)[:80]} != {str(a)[:80]}"]


async def _report(stack: Stack, http: aiohttp.ClientSession, tenant: str, period: dict[str, str]) -> Any:
    for url in stack.urls("reporting"):
        async with http.get(f"{url}/v1/reports/{tenant}", params=period, headers=ADMIN) as r:
            if r.status == 200:
                return _without_volatile(await r.json())
    return None


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value
