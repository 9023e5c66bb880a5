-- On-call (docs/oncall.md): overrides of schedules, pages to people, acknowledge links, handoffs.

-- One person on call for a time range over every layer of a schedule. Removing one keeps the row (who, when).
CREATE TABLE schedule_overrides (
    id          uuid PRIMARY KEY,
    schedule    text NOT NULL,
    tenant      text,                    -- NULL: a provider schedule
    "user"      text NOT NULL,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL CHECK (end_at > start_at),
    note        text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    removed_by  text,
    removed_at  timestamptz
);
CREATE INDEX schedule_overrides_live ON schedule_overrides (schedule, end_at) WHERE removed_at IS NULL;

-- A page goes to one contact method of one person; `person` is NULL for a tenant's notification targets.
-- `cancelled`: a delayed page whose incident was acknowledged or resolved before it was due.
ALTER TABLE notifications
    ADD COLUMN person   text,
    ADD COLUMN method   smallint,
    ADD COLUMN schedule text;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled'));
CREATE INDEX notifications_pending_pages ON notifications (incident_id) WHERE status = 'pending' AND person IS NOT NULL;

-- A single-use acknowledge or resolve link: only the SHA-256 of its random token is kept.
CREATE TABLE ack_links (
    token_sha256    text PRIMARY KEY,
    tenant          text NOT NULL,
    incident_id     uuid NOT NULL,
    number          text NOT NULL,
    person          text NOT NULL,
    acts_as         text NOT NULL,       -- the user the action is taken as
    action          text NOT NULL CHECK (action IN ('acknowledge', 'resolve')),
    notification_id uuid NOT NULL,       -- the page that carried it
    method          text NOT NULL,       -- email, webhook, slack
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX ack_links_expiry ON ack_links (expires_at);

-- Who each schedule of the current step had on call when last looked at, and when that next changes:
-- the handoff worker claims runs whose `handoff_at` passed and pages the incoming person.
ALTER TABLE escalation_runs
    ADD COLUMN on_call    jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN handoff_at timestamptz;
CREATE INDEX escalation_runs_handoff ON escalation_runs (handoff_at) WHERE handoff_at IS NOT NULL;
