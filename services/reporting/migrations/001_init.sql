-- Reporting owns the SLA event ledger: every event seen on the bus, once, kept after the stream expires.
-- The primary key is also reporting's inbox: a redelivered or republished event conflicts and is dropped.
CREATE TABLE ledger (
    event_id       text PRIMARY KEY,
    seq            bigserial NOT NULL,
    tenant         text NOT NULL,
    type           text NOT NULL,          -- the envelope's short type, e.g. incident.opened
    subject        text,                   -- the incident / change / alert the event is about
    occurred_at    timestamptz NOT NULL,   -- the envelope's time
    correlation_id text,
    data           jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_tenant_type_time ON ledger (tenant, type, occurred_at);
-- The operator listing reads a tenant's newest rows in recording order.
CREATE INDEX ledger_tenant_seq ON ledger (tenant, seq);
-- Reports join acknowledgements, resolutions and SLA events to the incidents opened in a period.
CREATE INDEX ledger_tenant_incident ON ledger (tenant, (data->>'incident_id'));
