-- The triage issue: the full lifecycle, correlation, flapping, suppression, routing, provider incidents.
ALTER TABLE incidents
    ADD COLUMN type            text NOT NULL DEFAULT 'incident',
    ADD COLUMN description     text,
    ADD COLUMN channel         text NOT NULL DEFAULT 'alert',
    ADD COLUMN queue           text NOT NULL DEFAULT 'tier-1',
    ADD COLUMN routing_rule    text,
    ADD COLUMN severity_trend  text NOT NULL DEFAULT 'steady',
    ADD COLUMN open_alerts     integer NOT NULL DEFAULT 0,
    ADD COLUMN flapping        boolean NOT NULL DEFAULT false,
    ADD COLUMN reopen_count    integer NOT NULL DEFAULT 0,
    ADD COLUMN hold_reason     text,
    ADD COLUMN resolution_code text,
    ADD COLUMN first_contact   boolean,
    ADD COLUMN closed_at       timestamptz,
    ADD COLUMN parent_id       uuid,
    ADD COLUMN changes         jsonb NOT NULL DEFAULT '[]',
    -- Learned from escalation's sla.warning / sla.breached; never written by the batch upsert.
    ADD COLUMN at_risk         boolean NOT NULL DEFAULT false,
    ADD COLUMN breached        boolean NOT NULL DEFAULT false;
UPDATE incidents SET open_alerts = 1 WHERE state NOT IN ('resolved', 'closed');
CREATE INDEX incidents_open_ci ON incidents (tenant, ci, opened_at) WHERE state NOT IN ('resolved', 'closed');
CREATE INDEX incidents_parent ON incidents (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX incidents_resolved ON incidents (resolved_at) WHERE state = 'resolved';  -- auto-close

ALTER TABLE incident_alerts
    ADD COLUMN dedup_key text,
    ADD COLUMN note      text;

-- Each dedup key's current incident and status: what dedup, reopen, correlation and flapping decide on.
CREATE TABLE alert_keys (
    tenant      text NOT NULL,
    dedup_key   text NOT NULL,
    incident_id uuid NOT NULL REFERENCES incidents(id),
    status      text NOT NULL,                   -- firing | resolved
    changes     jsonb NOT NULL DEFAULT '[]',  -- times of recent state changes (the flapping window)
    flapping    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, dedup_key)
);
INSERT INTO alert_keys (tenant, dedup_key, incident_id, status)
SELECT DISTINCT ON (tenant, dedup_key) tenant, dedup_key, id,
       CASE WHEN state IN ('resolved', 'closed') THEN 'resolved' ELSE 'firing' END
FROM incidents WHERE dedup_key IS NOT NULL ORDER BY tenant, dedup_key, opened_at DESC;
CREATE INDEX alert_keys_incident ON alert_keys (incident_id);

-- Triage's own copy of the change windows in progress (from change.window_started / _ended).
CREATE TABLE change_windows (
    tenant    text NOT NULL,
    change_id text NOT NULL,
    number    text NOT NULL,
    title     text NOT NULL,
    cis       text[] NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at   timestamptz NOT NULL,
    ended_at  timestamptz,
    PRIMARY KEY (tenant, change_id)
);
CREATE INDEX change_windows_until ON change_windows (tenant, (coalesce(ended_at, ends_at)));

-- One upstream fault seen by several tenants: the parent of one child incident per tenant.
CREATE TABLE provider_incidents (
    id          uuid PRIMARY KEY,
    number      text NOT NULL UNIQUE,
    source      text NOT NULL,
    dedup_key   text NOT NULL,
    title       text NOT NULL,
    state       text NOT NULL DEFAULT 'open',  -- open | resolved (when every child is)
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz
);
CREATE UNIQUE INDEX provider_incidents_open ON provider_incidents (source, dedup_key) WHERE state = 'open';
