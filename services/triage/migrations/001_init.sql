-- Triage owns incidents, the alerts grouped into them, and each incident's timeline.
CREATE TABLE tenant_counters (
    tenant      text PRIMARY KEY,
    last_number integer NOT NULL
);

CREATE TABLE incidents (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    number          text NOT NULL UNIQUE,
    title           text NOT NULL,
    state           text NOT NULL,
    priority        text NOT NULL,
    impact          text NOT NULL,
    urgency         text NOT NULL,
    category        text,
    ci              text,
    tier            smallint NOT NULL DEFAULT 1,
    assignee        text,
    dedup_key       text,
    source          text NOT NULL,
    severity        text NOT NULL,
    occurrences     integer NOT NULL DEFAULT 1,
    opened_at       timestamptz NOT NULL,
    detected_at     timestamptz,
    last_seen       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    resolved_at     timestamptz
);
-- At most one open incident per dedup key: the rule that makes repeats update instead of duplicate.
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (tenant, dedup_key)
    WHERE state NOT IN ('resolved', 'closed');
CREATE INDEX incidents_list ON incidents (tenant, opened_at DESC);

CREATE TABLE incident_alerts (
    alert_id    text PRIMARY KEY,
    incident_id uuid REFERENCES incidents(id),
    tenant      text NOT NULL,
    status      text NOT NULL,
    severity    text NOT NULL,
    summary     text NOT NULL,
    received_at timestamptz NOT NULL,
    effect      text NOT NULL
);
CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id);

CREATE TABLE timeline (
    id          bigserial PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents(id),
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    actor       text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_incident ON timeline (incident_id, id);
