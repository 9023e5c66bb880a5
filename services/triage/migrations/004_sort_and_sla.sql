-- The list sorts by priority, SLA deadline, opening or number, always with the number as the tiebreak: `seq` is
-- its numeric part (ACME-42: 42), so ACME-10 follows ACME-9. `sla` is triage's copy of escalation's clocks (from
-- the sla.* events) and `due_at` the deadline that matters now (response while unacknowledged, else
-- resolution; null when stopped or paused): never written by the batch upsert.
ALTER TABLE incidents
    ADD COLUMN seq    integer,
    ADD COLUMN sla    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN due_at timestamptz;
UPDATE incidents SET seq = substring(number FROM '([0-9]+)$')::integer;
ALTER TABLE incidents ALTER COLUMN seq SET NOT NULL;
