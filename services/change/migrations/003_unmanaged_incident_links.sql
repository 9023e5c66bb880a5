-- Incidents opened on a CI soon after a tool reported a change to it (unmanaged changes have no workflow,
-- so no outcome: the link is for whoever works the incident, and for the change calendar).
CREATE TABLE unmanaged_change_incidents (
    tenant          text NOT NULL,
    signal_id       text NOT NULL,
    incident_id     uuid NOT NULL,
    incident_number text NOT NULL,
    priority        text NOT NULL,
    opened_at       timestamptz NOT NULL,
    linked_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant, signal_id, incident_id),
    FOREIGN KEY (tenant, signal_id) REFERENCES unmanaged_changes (tenant, signal_id)
);
CREATE INDEX unmanaged_changes_ci ON unmanaged_changes (tenant, ci, at);
