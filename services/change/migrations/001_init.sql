-- Change owns change requests, their CAB votes and each change's timeline of state moves.
CREATE TABLE tenant_counters (
    tenant      text PRIMARY KEY,
    last_number integer NOT NULL
);

CREATE TABLE changes (
    id           uuid PRIMARY KEY,
    tenant       text NOT NULL,
    number       text NOT NULL UNIQUE,
    change_type  text NOT NULL CHECK (change_type IN ('standard', 'normal', 'emergency')),
    ci           text NOT NULL,
    title        text NOT NULL,
    description  text,
    state        text NOT NULL,
    requested_by text NOT NULL,
    -- Captured at creation: a later CAB reconfiguration does not move the bar under a change in flight.
    quorum       integer NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX changes_list ON changes (tenant, created_at DESC);

CREATE TABLE change_votes (
    change_id uuid NOT NULL REFERENCES changes(id),
    voter     text NOT NULL,
    vote      text NOT NULL CHECK (vote IN ('approve', 'reject')),
    comment   text,
    at        timestamptz NOT NULL,
    -- One vote per voter, enforced by the database as well as the rules.
    PRIMARY KEY (change_id, voter)
);

CREATE TABLE change_timeline (
    id         bigserial PRIMARY KEY,
    change_id  uuid NOT NULL REFERENCES changes(id),
    at         timestamptz NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    actor      text NOT NULL,
    comment    text
);
CREATE INDEX change_timeline_change ON change_timeline (change_id, id);
