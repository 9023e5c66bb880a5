-- SLA clocks keep the contract they started under: calendar definition, warning fractions, pauses.
-- `next_fire_at` is the clock's next warning or breach; NULL once stopped, paused or breached, so the
-- timer's partial index holds only what can still fire.
ALTER TABLE sla_clocks
    ADD COLUMN coverage     jsonb NOT NULL DEFAULT '{"hours": "24x7"}',
    ADD COLUMN warn_at      double precision[] NOT NULL DEFAULT '{}',
    ADD COLUMN warned       smallint NOT NULL DEFAULT 0,
    ADD COLUMN paused_at    timestamptz,
    ADD COLUMN pause_reason text,
    ADD COLUMN paused_s     double precision NOT NULL DEFAULT 0,
    ADD COLUMN next_fire_at timestamptz;
UPDATE sla_clocks SET next_fire_at = due_at WHERE stopped_at IS NULL AND breached_at IS NULL;
DROP INDEX sla_clocks_due;
CREATE INDEX sla_clocks_next_fire ON sla_clocks (next_fire_at) WHERE next_fire_at IS NOT NULL;

-- Escalation's view of each incident and where its escalation policy stands. `step_due_at` is when the
-- current step's delay runs out unacknowledged (NULL once acknowledged, resolved or the policy is done).
CREATE TABLE escalation_runs (
    incident_id     uuid PRIMARY KEY,
    tenant          text NOT NULL,
    number          text NOT NULL,
    title           text NOT NULL,
    priority        text NOT NULL,
    category        text,
    policy          text NOT NULL,
    steps           jsonb NOT NULL,          -- the policy's steps as they were when the incident opened
    repeat          smallint NOT NULL,
    coverage        jsonb NOT NULL,          -- step delays count in the contract's coverage time
    step            smallint NOT NULL DEFAULT 0,
    round           smallint NOT NULL DEFAULT 0,
    tier            smallint NOT NULL,       -- the highest tier applied or requested
    step_started_at timestamptz NOT NULL,
    step_due_at     timestamptz,
    state           text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'acknowledged', 'exhausted', 'closed')),
    sla             jsonb NOT NULL           -- every priority's targets at opening, for priority changes
);
CREATE INDEX escalation_runs_due ON escalation_runs (step_due_at) WHERE step_due_at IS NOT NULL;

-- Every notification to send, and every attempt at sending it. A row is claimed by one replica at a time
-- (FOR UPDATE SKIP LOCKED, then leased through next_attempt_at); `dead` is the dead-letter record.
CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    incident_id     uuid NOT NULL,
    number          text NOT NULL,
    target          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    trigger         text NOT NULL,
    dedup_key       text NOT NULL,           -- the cause (event id, step) so a replay notifies once
    body            jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        smallint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (target, tenant, dedup_key)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id, created_at);
CREATE TABLE notification_attempts (
    notification_id uuid NOT NULL REFERENCES notifications (id),
    attempt         smallint NOT NULL,
    at              timestamptz NOT NULL,
    ok              boolean NOT NULL,
    status_code     integer,
    error           text,
    duration_ms     double precision NOT NULL,
    PRIMARY KEY (notification_id, attempt)
);
