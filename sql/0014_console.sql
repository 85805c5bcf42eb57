-- The operator console: its users, sessions and audit log, the daemons'
-- heartbeats (and their circuit states), and indexes for searching messages.
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

-- Every running daemon upserts its row periodically and deletes it on a clean
-- stop; a row whose last_seen is old belongs to a daemon that died.
CREATE TABLE outpost.daemons (
    worker      text PRIMARY KEY,
    host        text NOT NULL,
    pid         int NOT NULL,
    version     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    -- Each provider's circuit in this process: [{"provider", "state", "retry_in_ms"}].
    circuits    jsonb NOT NULL DEFAULT '[]'::jsonb
);

-- Console users: argon2id password hashes (PHC strings), admin or viewer.
CREATE TABLE outpost.console_users (
    name           text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role           text NOT NULL CHECK (role IN ('admin', 'viewer')),
    -- NULL: the user can only come in through the trusted proxy header.
    password_hash  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Server-side sessions: the cookie carries a random token, this table keeps
-- only its SHA-256, so a database reader cannot take over a session.
-- Deleting a row (logout, user removal) ends the session at once.
CREATE TABLE outpost.console_sessions (
    token_hash  text PRIMARY KEY,
    user_name   text NOT NULL REFERENCES outpost.console_users (name) ON DELETE CASCADE,
    -- The per-session token every state-changing form must carry.
    csrf_token  text NOT NULL,
    address     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_user_idx ON outpost.console_sessions (user_name);

-- Every change made through the console: who, when, what, before and after.
CREATE TABLE outpost.console_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    address     text,
    action      text NOT NULL,
    object      text NOT NULL,
    before      jsonb,
    after       jsonb
);

-- Message search in the console, newest first with keyset pagination
-- (WHERE … AND id < last ORDER BY id DESC): an index per selective filter
-- ending in id, so a filtered page reads only the rows it shows.
CREATE INDEX messages_status_id_idx ON outpost.messages (status, id);
CREATE INDEX messages_to_address_id_idx ON outpost.messages (to_address, id)
    WHERE to_address IS NOT NULL;
CREATE INDEX messages_tenant_id_idx ON outpost.messages (tenant, id)
    WHERE tenant IS NOT NULL;
-- A user's messages use messages_to_user_idx (to_user, created_at): one
-- user's rows are few enough to sort.

GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.daemons, outpost.console_users,
    outpost.console_sessions, outpost.console_audit TO outpost_daemon;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA outpost TO outpost_daemon;
