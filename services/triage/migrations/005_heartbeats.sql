-- Heartbeats and compliance control checks (docs/heartbeats.md): what triage needs to notice a silence or a
-- failure once, and to resolve it once.
--
-- One `heartbeats` row per tenant and heartbeat, from its first beat. `due_at` is the nearer of its deadlines
-- (silent: last beat + expect_every + grace; a backup's RPO: newest good recovery point + rpo + grace), null
-- while its late alert is out; the late-heartbeat worker claims rows past it FOR UPDATE SKIP LOCKED and, in the
-- same transaction, raises the alert through triage and clears it, so the alert fires once per late spell.
CREATE TABLE heartbeats (
    tenant         text NOT NULL,
    name           text NOT NULL,
    first_beat_at  timestamptz,
    last_beat_at   timestamptz,
    recovery_point timestamptz,      -- a backup's newest good recovery point
    due_at         timestamptz,
    late_since     timestamptz,      -- its late alert fired then and is not resolved
    late_reason    text,             -- silent | rpo
    fired          integer NOT NULL DEFAULT 0,
    incident_id    uuid,             -- the incident the last late alert opened or joined
    PRIMARY KEY (tenant, name)
);
CREATE INDEX heartbeats_due ON heartbeats (due_at) WHERE due_at IS NOT NULL;

-- One row per tenant, control and CI in its scope: the newest result, and the open finding's alert.
CREATE TABLE control_checks (
    tenant        text NOT NULL,
    control_id    text NOT NULL,
    ci            text NOT NULL,
    result        text,
    checked_at    timestamptz,
    failing_since timestamptz,
    fired         integer NOT NULL DEFAULT 0,
    incident_id   uuid,
    PRIMARY KEY (tenant, control_id, ci)
);
