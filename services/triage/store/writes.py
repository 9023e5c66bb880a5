"""Triage's SQL (with reads.py): the write side. Batch writes use unnest() so one transaction (and one
statement) carries a whole batch."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from libs.db import columns, fields_as_columns, unnest_args
from services.triage.domain.grouping import AlertKey
from services.triage.domain.incident import Incident
from services.triage.domain.rules import Window
from services.triage.store.rows import AlertRow, BatchView, HeldAlert, ProviderHit, TimelineEntry

# (column, array type) of every column the upsert writes, in Incident field order where it matters.
_WRITTEN = [
    ("id", "uuid"), ("tenant", "text"), ("number", "text"), ("title", "text"), ("state", "text"),
    ("priority", "text"), ("impact", "text"), ("urgency", "text"), ("category", "text"), ("ci", "text"),
    ("tier", "smallint"), ("dedup_key", "text"), ("source", "text"), ("severity", "text"), ("occurrences", "int"),
    ("opened_at", "timestamptz"), ("detected_at", "timestamptz"), ("last_seen", "timestamptz"),
    ("acknowledged_at", "timestamptz"), ("resolved_at", "timestamptz"), ("assignee", "text"), ("type", "text"),
    ("description", "text"), ("channel", "text"), ("queue", "text"), ("routing_rule", "text"),
    ("severity_trend", "text"), ("open_alerts", "int"), ("flapping", "bool"), ("reopen_count", "int"),
    ("hold_reason", "text"), ("resolution_code", "text"), ("first_contact", "bool"), ("closed_at", "timestamptz"),
    ("parent_id", "uuid"), ("changes", "jsonb"), ("seq", "int"),
]  # fmt: skip


_NAMES = [c for c, _ in _WRITTEN]


_FIXED = {"id", "tenant", "number", "seq", "opened_at", "source", "dedup_key"}


# at_risk, breached, sla and due_at come from escalation's events (store/sla.py): never written by the upsert.
_READ = [*_NAMES, "at_risk", "breached", "sla", "due_at"]


_COLUMNS = ", ".join(_READ)


_OPEN = "state NOT IN ('resolved', 'closed')"


def _incident(row: asyncpg.Record) -> Incident:
    data = {c: row[c] for c in _READ}
    data["id"] = str(data["id"])
    data["parent_id"] = str(data["parent_id"]) if data["parent_id"] else None
    data["changes"] = json.loads(data["changes"])
    data["sla"] = json.loads(data["sla"])
    return Incident(**data)


def _incident_row(i: Incident) -> tuple[Any, ...]:
    return tuple(json.dumps(i.changes) if c == "changes" else getattr(i, c) for c in _NAMES)


async def lock_batch(
    conn: asyncpg.Connection,
    *,
    keys: Sequence[tuple[str, str]],
    cis: Sequence[tuple[str, str, datetime]],
    tenants: Sequence[str],
    since: datetime,
) -> BatchView:
    """Everything a batch of alerts decides on, in ONE round trip (every alert waits on this transaction):
    its alert keys and their incidents, the open incidents on its CIs opened since each given time
    (correlation), all row-locked (keys first, then incidents, each in sorted order, so batches and API
    commands never deadlock), and its tenants' change windows that had not ended by `since` (suppression)."""
    ordered, ci_list = sorted(set(keys)), sorted(set(cis))
    rows = await conn.fetch(
        "WITH k AS (SELECT tenant, dedup_key, incident_id, status, changes, flapping FROM alert_keys"
        " JOIN unnest($1::text[], $2::text[]) AS b(tenant, dedup_key) USING (tenant, dedup_key)"
        " ORDER BY tenant, dedup_key FOR UPDATE OF alert_keys),"
        " head AS (SELECT (SELECT coalesce(json_agg(k), '[]') FROM k)::text AS keys,"
        " (SELECT coalesce(json_agg(w), '[]') FROM (SELECT tenant, number, title, cis, starts_at,"
        " coalesce(ended_at, ends_at) AS until FROM change_windows WHERE tenant = ANY($6::text[])"
        " AND coalesce(ended_at, ends_at) > $7) w)::text AS windows)"
        f" SELECT head.keys, head.windows, i.* FROM head LEFT JOIN LATERAL (SELECT {_COLUMNS} FROM incidents"
        " WHERE id IN (SELECT incident_id FROM k UNION SELECT i.id FROM incidents i"
        " JOIN unnest($3::text[], $4::text[], $5::timestamptz[]) AS c(tenant, ci, since)"
        f" ON i.tenant = c.tenant AND i.ci = c.ci AND i.opened_at > c.since WHERE i.{_OPEN})"
        " ORDER BY id FOR UPDATE) i ON true",
        [t for t, _ in ordered],
        [k for _, k in ordered],
        [c[0] for c in ci_list],
        [c[1] for c in ci_list],
        [c[2] for c in ci_list],
        list(tenants),
        since,
    )
    found = {
        (k["tenant"], k["dedup_key"]): AlertKey(
            k["tenant"], k["dedup_key"], k["incident_id"], k["status"],
            [datetime.fromisoformat(t) for t in k["changes"]], k["flapping"],
        )
        for k in json.loads(rows[0]["keys"])
    }  # fmt: skip
    windows: dict[str, list[Window]] = {}
    for w in json.loads(rows[0]["windows"]):
        window = Window("change", w["number"], w["title"], tuple(w["cis"]), datetime.fromisoformat(w["starts_at"]),
                        datetime.fromisoformat(w["until"]))  # fmt: skip
        windows.setdefault(w["tenant"], []).append(window)
    incidents = {str(r["id"]): _incident(r) for r in rows if r["id"] is not None}
    by_ci: dict[tuple[str, str], Incident] = {}
    for i in sorted(incidents.values(), key=lambda i: i.opened_at):
        if i.ci and i.is_open:
            by_ci[(i.tenant, i.ci)] = i  # the latest opened wins
    return BatchView(keys=found, incidents=incidents, by_ci=by_ci, windows=windows)


async def allocate_numbers(conn: asyncpg.Connection, *, counts: dict[str, int]) -> dict[str, int]:
    """Reserve `count` incident numbers per tenant; returns the first number of each tenant's block."""
    if not counts:
        return {}
    tenants = sorted(counts)
    rows = await conn.fetch(
        "INSERT INTO tenant_counters(tenant, last_number) SELECT * FROM unnest($1::text[], $2::int[])"
        " ON CONFLICT (tenant) DO UPDATE SET last_number = tenant_counters.last_number + EXCLUDED.last_number"
        " RETURNING tenant, last_number",
        tenants,
        [counts[t] for t in tenants],
    )
    return {r["tenant"]: r["last_number"] - counts[r["tenant"]] + 1 for r in rows}


async def link_provider_incidents(
    conn: asyncpg.Connection, *, hits: Sequence[ProviderHit]
) -> dict[tuple[str, str], str]:
    """The open provider incident of each hit's (source, dedup_key), opened if there is none; in key order, as
    every batch locks them."""
    found: dict[tuple[str, str], str] = {}
    for source, key, title, at in sorted({(h.source, h.dedup_key, h.title, h.opened_at) for h in hits}):
        row = await conn.fetchrow(
            "SELECT id FROM provider_incidents WHERE source = $1 AND dedup_key = $2 AND state = 'open' FOR UPDATE",
            source,
            key,
        )
        if row is None:
            first = (await allocate_numbers(conn, counts={"_provider": 1}))["_provider"]
            row = await conn.fetchrow(
                "INSERT INTO provider_incidents (id, number, source, dedup_key, title, opened_at)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                uuid.uuid4(), f"PRV-{first}", source, key, title, at,
            )  # fmt: skip
        found[(source, key)] = str(row["id"])
    return found


async def settle_provider_incidents(conn: asyncpg.Connection, *, parents: Sequence[str], at: datetime) -> None:
    """A provider incident resolves when every child has, and opens again when one of them is reopened.

    It stays resolved if a newer provider incident already holds the same upstream fault: the reopened
    child keeps its link to the old one, and there is never more than one open per (source, dedup key).
    """
    ids = sorted(set(parents))
    await conn.execute(
        "UPDATE provider_incidents p SET state = 'resolved', resolved_at = $2 WHERE id = ANY($1::uuid[])"
        f" AND state = 'open' AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.parent_id = p.id AND i.{_OPEN})",
        ids,
        at,
    )
    await conn.execute(
        "UPDATE provider_incidents p SET state = 'open', resolved_at = NULL WHERE id = ANY($1::uuid[])"
        f" AND state = 'resolved' AND EXISTS (SELECT 1 FROM incidents i WHERE i.parent_id = p.id AND i.{_OPEN})"
        " AND NOT EXISTS (SELECT 1 FROM provider_incidents o"
        " WHERE o.source = p.source AND o.dedup_key = p.dedup_key AND o.state = 'open')",
        ids,
    )


async def close_resolved(
    conn: asyncpg.Connection, *, after_s: dict[str, float], at: datetime, limit: int
) -> list[Incident]:
    """Close incidents resolved longer ago than their tenant's close_after, oldest first; rows another
    replica is closing are skipped (SKIP LOCKED), so each closes once."""
    tenants = sorted(after_s)
    rows = await conn.fetch(
        "WITH due AS (SELECT i.id FROM incidents i JOIN unnest($1::text[], $2::float8[]) AS c(tenant, secs)"
        " ON i.tenant = c.tenant WHERE i.state = 'resolved'"
        " AND i.resolved_at < $3::timestamptz - make_interval(secs => c.secs)"
        " ORDER BY i.resolved_at LIMIT $4 FOR UPDATE OF i SKIP LOCKED)"
        " UPDATE incidents SET state = 'closed', closed_at = $3 FROM due WHERE incidents.id = due.id"
        f" RETURNING {', '.join('incidents.' + c for c in _READ)}",
        tenants,
        [after_s[t] for t in tenants],
        at,
        limit,
    )
    return [_incident(r) for r in rows]


_AL = [("alert_id", "text"), ("incident_id", "uuid"), ("tenant", "text"), ("status", "text"), ("severity", "text"),
       ("summary", "text"), ("received_at", "timestamptz"), ("effect", "text"), ("dedup_key", "text"),
       ("note", "text"), ("sanitized", "jsonb")]  # fmt: skip


_HELD = [("tenant", "text"), ("dedup_key", "text"), ("alert_id", "text"), ("held_by", "text"),
         ("held_until", "timestamptz"), ("received_at", "timestamptz"), ("envelope", "bytea")]  # fmt: skip


_TL = [("incident_id", "uuid"), ("at", "timestamptz"), ("kind", "text"), ("actor", "text"), ("detail", "jsonb")]


_KEYS = [("tenant", "text"), ("dedup_key", "text"), ("incident_id", "uuid"), ("status", "text"),
         ("changes", "jsonb"), ("flapping", "bool")]  # fmt: skip


async def record_batch(
    conn: asyncpg.Connection,
    *,
    incidents: Sequence[Incident],
    alerts: Sequence[AlertRow] = (),
    timeline: Sequence[TimelineEntry] = (),
    keys: Sequence[AlertKey] = (),
    held: Sequence[HeldAlert] = (),
    unheld: Sequence[tuple[str, str]] = (),
) -> None:
    """Incidents (upserted, in id order), their alerts, timeline entries and alert keys in ONE statement: a
    fetched batch's, or one API command's. Foreign keys hold: they are checked at the end of the statement.

    `held`: alerts suppressed with nothing to attach to (the newer one per key stays); `unheld`: (tenant,
    dedup_key) whose held alert the batch superseded. The two never name one key (one statement must not
    change a row twice)."""
    inc = columns([_incident_row(i) for i in sorted(incidents, key=lambda i: i.id)], len(_WRITTEN))
    ks = fields_as_columns(sorted(keys, key=lambda k: (k.tenant, k.dedup_key)), _KEYS)
    parts = [inc, fields_as_columns(alerts, _AL), fields_as_columns(timeline, _TL), ks, fields_as_columns(held, _HELD),
             columns(unheld, 2)]  # fmt: skip
    first = [1]
    for part in parts[:-1]:
        first.append(first[-1] + len(part))
    f_inc, f_al, f_tl, f_ks, f_hold, f_drop = first
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _NAMES if c not in _FIXED)
    await conn.execute(
        f"WITH inc AS (INSERT INTO incidents ({', '.join(_NAMES)}) SELECT * FROM unnest({unnest_args(_WRITTEN, f_inc)})"
        f" ON CONFLICT (id) DO UPDATE SET {updates} RETURNING 1),"
        f" al AS (INSERT INTO incident_alerts ({', '.join(c for c, _ in _AL)})"
        f" SELECT * FROM unnest({unnest_args(_AL, f_al)}) ON CONFLICT (alert_id) DO NOTHING RETURNING 1),"
        f" ks AS (INSERT INTO alert_keys ({', '.join(c for c, _ in _KEYS)})"
        f" SELECT * FROM unnest({unnest_args(_KEYS, f_ks)}) ON CONFLICT (tenant, dedup_key) DO UPDATE"
        " SET incident_id = EXCLUDED.incident_id, status = EXCLUDED.status, changes = EXCLUDED.changes,"
        " flapping = EXCLUDED.flapping RETURNING 1),"
        f" hu AS (INSERT INTO held_alerts ({', '.join(c for c, _ in _HELD)})"
        f" SELECT * FROM unnest({unnest_args(_HELD, f_hold)})"
        " ON CONFLICT (tenant, dedup_key) DO UPDATE SET alert_id = EXCLUDED.alert_id, held_by = EXCLUDED.held_by,"
        " held_until = EXCLUDED.held_until, received_at = EXCLUDED.received_at, envelope = EXCLUDED.envelope"
        " WHERE EXCLUDED.received_at >= held_alerts.received_at RETURNING 1),"
        f" hd AS (DELETE FROM held_alerts h USING unnest(${f_drop}::text[], ${f_drop + 1}::text[])"
        " AS d(tenant, dedup_key) WHERE h.tenant = d.tenant AND h.dedup_key = d.dedup_key RETURNING 1)"
        " INSERT INTO timeline (incident_id, at, kind, actor, detail)"
        f" SELECT * FROM unnest({unnest_args(_TL, f_tl)})",
        *[column for part in parts for column in part],
    )
