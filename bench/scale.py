"""`make bench`'s steps at scale: open incidents and ledger events seeded by SQL (not through the API), the
time of a tenant-month report over the ledger, and the memory of the whole stack.

The seeds copy what the services themselves write: 100,000 open incidents are rows in triage's incidents
(each its own dedup key), two running clocks and an escalation run each in escalation's tables (deadlines a
day ahead, as `bench.clocks` loads them) and a live gauge row in reporting's; the ledger is filled up to
1,000,000 events in this month by copying the events the benchmark's own steps recorded, each copy with new
event and incident ids, so a report reads real payload shapes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import psutil

from bench.clocks import load_clocks

ADMIN_TOKEN = "demo-admin-token"  # provider_admin in the demo config: may read every tenant's reports
MONTH = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)  # the report's month: this one
MONTH_END = (MONTH + timedelta(days=32)).replace(day=1)


async def seed_open_incidents(db: asyncpg.Connection, n: int) -> float:
    """n open Acme incidents with their clocks, runs and gauges; returns the seconds it took."""
    t0 = time.perf_counter()
    ids = [str(r["id"]) for r in await db.fetch("SELECT gen_random_uuid() AS id FROM generate_series(1, $1)", n)]
    await db.execute(
        "INSERT INTO triage.incidents (id, tenant, number, seq, title, state, priority, impact, urgency, category,"
        " ci, tier, dedup_key, source, severity, opened_at, last_seen)"
        " SELECT i, 'acme', 'SEED-' || k, 1000000 + k, 'seeded open incident', 'new', 'P3', 'medium', 'medium',"
        " 'infrastructure', 'erp-db', 1, 'seed-' || k, 'generic', 'error', now() - interval '1 day',"
        " now() - interval '1 day' FROM unnest($1::uuid[]) WITH ORDINALITY AS u(i, k)",
        ids,
    )
    await db.execute(
        "INSERT INTO reporting.live_incidents (incident_id, tenant, priority, tier, opened_at)"
        " SELECT i, 'acme', 'P3', 1, now() - interval '1 day' FROM unnest($1::text[]) AS u(i)",
        ids,
    )
    await load_clocks(db, n=n, first_due=datetime.now(UTC) + timedelta(days=1), spread_s=3600, ids=ids)
    await db.execute("ANALYZE triage.incidents; ANALYZE escalation.sla_clocks; ANALYZE escalation.escalation_runs")
    return time.perf_counter() - t0


async def seed_ledger(db: asyncpg.Connection, total: int) -> tuple[int, float]:
    """Copy Acme's recorded events (each copy with new event and incident ids, its times as they were: this
    month, so that the report's period, which selects incidents by the times in their payloads, holds them)
    until Acme's month holds at least `total` events; returns (the month's events, seconds)."""
    t0 = time.perf_counter()
    base = await db.fetchval("SELECT count(*) FROM reporting.ledger WHERE tenant = 'acme'")
    copies = max(0, -(-total // max(1, base)) - 1)
    await db.execute(
        "INSERT INTO reporting.ledger (event_id, tenant, type, subject, occurred_at, correlation_id, data)"
        " SELECT md5(g || ':' || l.event_id), l.tenant, l.type, l.subject, l.occurred_at, l.correlation_id,"
        "        CASE WHEN l.data ? 'incident_id' THEN jsonb_set(l.data, '{incident_id}',"
        "             to_jsonb(md5(g || ':' || (l.data->>'incident_id'))::uuid::text)) ELSE l.data END"
        " FROM reporting.ledger l, generate_series(1, $1::int) AS g WHERE l.tenant = 'acme'",
        copies,
    )
    await db.execute("ANALYZE reporting.ledger")
    month = await db.fetchval(
        "SELECT count(*) FROM reporting.ledger WHERE tenant = 'acme' AND occurred_at >= $1 AND occurred_at < $2",
        MONTH,
        MONTH_END,
    )
    return int(month), time.perf_counter() - t0


async def report_times(reporting_url: str, *, limit_s: float = 120) -> dict[str, object]:
    """Seconds for Acme's report of MONTH (JSON, no trend; then with the default three months of trend when
    the first came within 10 s); a report still not answered after `limit_s` is written as "> limit"."""
    url = f"{reporting_url}/v1/reports/acme?from={MONTH:%Y-%m-%d}&to={MONTH_END:%Y-%m-%d}"
    out: dict[str, object] = {}
    body: object = None
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        for name, query in (("report s", "&trend=0"), ("report+trend s", "")):
            t0 = time.perf_counter()
            try:
                async with http.get(url + query, timeout=aiohttp.ClientTimeout(total=limit_s)) as r:
                    if r.status != 200:
                        raise RuntimeError(f"report answered {r.status}: {await r.text()}")
                    body = await r.json()
            except TimeoutError:
                out[name] = f"> {limit_s:.0f}"
                break
            out[name] = round(time.perf_counter() - t0, 2)
            if out[name] > 10:  # type: ignore[operator]
                break
    out["incidents in the report"] = _first(body, "incidents")
    return out


def _first(tree: object, key: str) -> object:
    """The first value under `key` in a JSON tree (depth first), e.g. the report's incident count."""
    if isinstance(tree, dict):
        if key in tree and isinstance(tree[key], int):
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            if (found := _first(item, key)) is not None:
                return found
    return None


def stack_memory(pids: list[int]) -> dict[str, int]:
    """MB of the stack's process trees: RSS summed (counts shared pages once per process) and PSS (shared
    pages split among their sharers: PostgreSQL's shared buffers counted once)."""
    rss = pss = 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                mem = p.memory_full_info()
                rss, pss = rss + mem.rss, pss + getattr(mem, "pss", mem.rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
    return {"RSS MB": rss >> 20, "PSS MB": pss >> 20}
