-- The incidents change has seen open on a CI, kept for a while: a tool's change event can arrive after the
-- incident it caused (a pipeline reports a deploy when it finishes, an alert fires halfway through), and
-- change can link only an incident it remembers. Pruned as new incidents arrive (store.remember_incidents).
CREATE TABLE incidents_seen (
    tenant          text NOT NULL,
    incident_id     uuid NOT NULL,
    incident_number text NOT NULL,
    priority        text NOT NULL,
    ci              text NOT NULL,
    opened_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant, incident_id)
);
CREATE INDEX incidents_seen_ci ON incidents_seen (tenant, ci, opened_at);
CREATE INDEX incidents_seen_age ON incidents_seen (opened_at);
