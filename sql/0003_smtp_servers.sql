-- SMTP servers managed in the database (the original CustomSMTPBackend admin
-- model). With email.backend = smtp_db, the enabled row with the lowest
-- "order" is used; changes apply to the next e-mail, without a restart.
CREATE TABLE outpost.smtp_servers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    host            text NOT NULL CHECK (btrim(host) <> ''),
    port            int NOT NULL DEFAULT 587 CHECK (port BETWEEN 1 AND 65535),
    username        text NOT NULL DEFAULT '',
    -- Secret: never printed or logged by Outpost.
    password        text NOT NULL DEFAULT '',
    -- none: plain SMTP; starttls: STARTTLS required (587); tls: implicit TLS (465).
    security        text NOT NULL DEFAULT 'starttls'
        CHECK (security IN ('none', 'starttls', 'tls')),
    timeout_seconds int NOT NULL DEFAULT 60 CHECK (timeout_seconds > 0),
    "order"         int NOT NULL DEFAULT 0,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
