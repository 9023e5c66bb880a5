-- The console owns one thing: signed-in sessions. The cookie carries a random 256-bit id; only its SHA-256
-- is kept, so a copy of this table opens no session. The user's API token is sealed (Fernet, key from
-- TIERLINE_CONSOLE_SECRET): every read and action goes to the other services' APIs with that token.
CREATE TABLE sessions (
    id_sha256    text PRIMARY KEY,
    user_name    text NOT NULL,
    role         text NOT NULL,
    tenant       text,
    sealed_token bytea NOT NULL,
    csrf_secret  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
