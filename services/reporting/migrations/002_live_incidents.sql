-- Live figures for Prometheus (open incidents by tenant, priority and tier; MTTA as incidents are
-- acknowledged): a small table kept from the ledger's new rows in the same transaction that records them.
CREATE TABLE live_incidents (
    incident_id     text PRIMARY KEY,
    tenant          text NOT NULL,
    priority        text NOT NULL,
    tier            int NOT NULL,
    state           text NOT NULL DEFAULT 'open',   -- open | resolved | closed
    opened_at       timestamptz NOT NULL,
    acknowledged_at timestamptz
);
CREATE INDEX live_incidents_open ON live_incidents (tenant, priority, tier) WHERE state = 'open';
-- Filled from what the ledger already holds, so an upgrade starts with the right gauges.
INSERT INTO live_incidents (incident_id, tenant, priority, tier, opened_at)
SELECT DISTINCT ON (data->>'incident_id') data->>'incident_id', tenant, data->>'priority',
       coalesce((data->>'tier')::int, 1), (data->>'opened_at')::timestamptz
FROM ledger WHERE type = 'incident.opened' ORDER BY data->>'incident_id', seq
ON CONFLICT DO NOTHING;
UPDATE live_incidents l SET state = 'resolved'
FROM ledger r WHERE r.type = 'incident.resolved' AND r.data->>'incident_id' = l.incident_id;
UPDATE live_incidents l SET state = 'closed'
FROM ledger r WHERE r.type = 'incident.closed' AND r.data->>'incident_id' = l.incident_id;
-- The live breach gauge counts this month's breaches across tenants.
CREATE INDEX ledger_type_time ON ledger (type, occurred_at);
