-- Recurring notifications and the bookkeeping of cron jobs.

-- A message inserted on a cron schedule. Each firing inserts it exactly once
-- (idempotency key schedule:NAME:FIRE-TIME), across any number of daemons; a
-- firing missed while no daemon ran is caught up once.
CREATE TABLE outpost.schedules (
    name          text PRIMARY KEY,
    -- Five fields (minute hour day month weekday), or six with seconds first.
    cron          text NOT NULL,
    timezone      text NOT NULL DEFAULT 'UTC',
    -- The message: {"kind": "email", "to_user": "42", "template": "digest", …}
    -- with the columns of outpost.messages as keys.
    message       jsonb NOT NULL CHECK (jsonb_typeof(message) = 'object' AND message ? 'kind'),
    enabled       boolean NOT NULL DEFAULT true,
    last_fired_at timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The last tick each housekeeping job ran for: one daemon per tick.
CREATE TABLE outpost.cron_runs (
    job        text PRIMARY KEY,
    last_tick  timestamptz NOT NULL,
    ran_by     text,
    ran_at     timestamptz NOT NULL DEFAULT now()
);

-- Purges walk these.
CREATE INDEX messages_finished_idx ON outpost.messages (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX events_received_idx ON outpost.events (received_at);
CREATE INDEX chat_messages_outbox_idx ON outpost.chat_messages (outbox_message_id)
    WHERE outbox_message_id IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.schedules, outpost.cron_runs TO outpost_daemon;
