-- Escalation owns the SLA clocks. A clock's deadline is a row: the timer claims due rows with
-- FOR UPDATE SKIP LOCKED, and firing it (breached_at) commits with the events it raises.
CREATE TABLE sla_clocks (
    incident_id uuid NOT NULL,
    clock       text NOT NULL CHECK (clock IN ('response', 'resolution')),
    tenant      text NOT NULL,
    number      text NOT NULL,
    priority    text NOT NULL,
    tier        smallint NOT NULL,
    calendar    text NOT NULL,
    target_s    double precision NOT NULL,
    started_at  timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    stopped_at  timestamptz,
    breached_at timestamptz,
    fired_late  boolean,
    PRIMARY KEY (incident_id, clock)
);
-- Only clocks that can still fire are indexed, so the timer's scan stays small with 100k open clocks.
CREATE INDEX sla_clocks_due ON sla_clocks (due_at) WHERE stopped_at IS NULL AND breached_at IS NULL;
CREATE INDEX sla_clocks_tenant ON sla_clocks (tenant, started_at DESC);
