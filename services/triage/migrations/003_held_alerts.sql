-- Alerts suppressed during a change or maintenance window with no incident to attach to, still firing:
-- the latest one per dedup key, held until its window ends. Then it is triaged again (services/triage/
-- release.py): a CI still alerting after its change is exactly what someone must see, and monitoring tools
-- do not repeat a firing alert for hours. A resolve, or any alert on the key that was not held, drops it.
CREATE TABLE held_alerts (
    tenant      text NOT NULL,
    dedup_key   text NOT NULL,
    alert_id    text NOT NULL,
    held_by     text NOT NULL,          -- the window: change:ACME-CHG-7 | maintenance:<name>
    held_until  timestamptz NOT NULL,   -- its end as last known (an early end moves it nearer)
    received_at timestamptz NOT NULL,
    envelope    bytea NOT NULL,         -- the alert.received event as it arrived
    PRIMARY KEY (tenant, dedup_key)
);
CREATE INDEX held_alerts_due ON held_alerts (held_until);
