-- The full ITIL workflow: affected CIs, assessment, planned window, implementation and its outcome;
-- window start/end as due rows fired once; incidents linked as suspected causes; unmanaged changes.
ALTER TABLE changes
    ADD COLUMN cis           text[] NOT NULL DEFAULT '{}',
    ADD COLUMN template      text,
    ADD COLUMN risk          text CHECK (risk IN ('low', 'medium', 'high')),
    ADD COLUMN impact        text,
    ADD COLUMN planned_start timestamptz,
    ADD COLUMN planned_end   timestamptz,
    ADD COLUMN implementer   text,
    ADD COLUMN rollback_plan text,
    ADD COLUMN rollback      text,
    ADD COLUMN result        text CHECK (result IN ('successful', 'failed')),
    ADD COLUMN outcome       text CHECK (outcome IN ('successful', 'failed')),
    ADD COLUMN started_at    timestamptz,
    ADD COLUMN ended_at      timestamptz,
    -- Freeze and conflict overrides taken when scheduling: kind, reason, who, when, what was overridden.
    ADD COLUMN overrides     jsonb NOT NULL DEFAULT '[]',
    ADD CONSTRAINT changes_window CHECK (planned_end > planned_start);
UPDATE changes SET cis = ARRAY[ci] WHERE cis = '{}';
CREATE INDEX changes_calendar ON changes (tenant, planned_start) WHERE planned_start IS NOT NULL;
CREATE INDEX changes_cis ON changes USING gin (cis);

-- One row per edge of a scheduled change's window; the timer fires each once (fired_at) with its event.
CREATE TABLE change_windows (
    change_id uuid NOT NULL REFERENCES changes(id),
    edge      text NOT NULL CHECK (edge IN ('start', 'end')),
    due_at    timestamptz NOT NULL,
    fired_at  timestamptz,
    PRIMARY KEY (change_id, edge)
);
CREATE INDEX change_windows_due ON change_windows (due_at) WHERE fired_at IS NULL;

CREATE TABLE change_incidents (
    change_id       uuid NOT NULL REFERENCES changes(id),
    incident_id     text NOT NULL,
    incident_number text NOT NULL,
    priority        text NOT NULL,
    ci              text,
    opened_at       timestamptz NOT NULL,
    linked_at       timestamptz NOT NULL,
    cleared_at      timestamptz,
    cleared_by      text,
    clear_reason    text,
    PRIMARY KEY (change_id, incident_id)
);

-- Changes tools reported (PagerDuty-style change events via intake): on the calendar, outside the workflow.
CREATE TABLE unmanaged_changes (
    tenant         text NOT NULL,
    signal_id      text NOT NULL,
    source         text NOT NULL,
    integration    text NOT NULL,
    summary        text NOT NULL,
    ci             text,
    at             timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,
    custom_details jsonb NOT NULL DEFAULT '{}',
    links          jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (tenant, signal_id)
);
CREATE INDEX unmanaged_changes_calendar ON unmanaged_changes (tenant, at);
