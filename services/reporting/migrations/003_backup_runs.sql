-- A backup job's reports (heartbeat.received of kind backup) are what RPO compliance is computed from, over all
-- of a job's history (its first report, its newest good recovery point before a period). A Watchdog beats every
-- few minutes and a backup once a night, so the backups get an index of their own: the report reads only them.
CREATE INDEX ledger_backup_runs ON ledger (tenant, occurred_at)
    WHERE type = 'heartbeat.received' AND data->>'kind' = 'backup';
