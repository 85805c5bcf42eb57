-- The outbox: messages, their delivery attempts, provider events, recipients.
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

CREATE TABLE outpost.recipients (
    user_id          text PRIMARY KEY,
    email            text,
    phone            text,
    locale           text,
    timezone         text,
    tenant           text,
    push_named_user  text,
    name             text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outpost.messages (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                text NOT NULL
        CONSTRAINT messages_kind_check CHECK (kind IN ('email', 'sms', 'voice', 'push', 'chat')),
    to_user             text,
    to_address          text,
    template            text,
    context             jsonb NOT NULL DEFAULT '{}'::jsonb,
    locale              text,
    subject             text,
    body                text,
    html                text,
    options             jsonb NOT NULL DEFAULT '{}'::jsonb,
    provider            text,
    tenant              text,
    priority            smallint NOT NULL DEFAULT 0,
    run_at              timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    idempotency_key     text
        CONSTRAINT messages_idempotency_key_unique UNIQUE,
    -- NULL: the configured [retry] max_attempts.
    max_attempts        int
        CONSTRAINT messages_max_attempts_check CHECK (max_attempts > 0),
    status              text NOT NULL DEFAULT 'queued'
        CONSTRAINT messages_status_check CHECK (status IN (
            'queued', 'sending', 'sent', 'delivered', 'failed',
            'bounced', 'cancelled', 'expired', 'suppressed')),
    attempts            int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    leased_until        timestamptz,
    worker              text,
    provider_message_id text,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    finished_at         timestamptz,
    CONSTRAINT messages_recipient_check CHECK (
        nullif(btrim(to_user), '') IS NOT NULL OR nullif(btrim(to_address), '') IS NOT NULL),
    CONSTRAINT messages_context_object_check CHECK (jsonb_typeof(context) = 'object'),
    CONSTRAINT messages_options_object_check CHECK (jsonb_typeof(options) = 'object'),
    CONSTRAINT messages_lease_check CHECK (status <> 'sending' OR leased_until IS NOT NULL)
);

-- Serves the claim query: only queued rows are indexed, in claim order.
CREATE INDEX messages_claim_idx ON outpost.messages (priority DESC, run_at, id)
    WHERE status = 'queued';
-- Serves the rescuer: in-flight rows by lease expiry.
CREATE INDEX messages_lease_idx ON outpost.messages (leased_until)
    WHERE status = 'sending';
-- Serves the expirer: queued rows that have a deadline.
CREATE INDEX messages_expiry_idx ON outpost.messages (expires_at)
    WHERE status = 'queued' AND expires_at IS NOT NULL;
CREATE INDEX messages_to_user_idx ON outpost.messages (to_user, created_at)
    WHERE to_user IS NOT NULL;
CREATE INDEX messages_provider_message_id_idx ON outpost.messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

CREATE TABLE outpost.attempts (
    message_id          bigint NOT NULL REFERENCES outpost.messages (id) ON DELETE CASCADE,
    attempt             int NOT NULL CHECK (attempt > 0),
    worker              text NOT NULL,
    provider            text,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz,
    -- sent: accepted by the provider; retry: transient failure, requeued;
    -- failed: permanent failure or budget spent; unknown: the worker lost the
    -- row mid-send (crash, lease expiry, shutdown) and it may have been sent.
    outcome             text NOT NULL
        CONSTRAINT attempts_outcome_check CHECK (outcome IN ('sent', 'retry', 'failed', 'unknown')),
    provider_code       text,
    error               text,
    provider_message_id text,
    -- false when the worker no longer held the lease and its outcome was not
    -- applied to the message.
    applied             boolean NOT NULL DEFAULT true,
    PRIMARY KEY (message_id, attempt)
);

CREATE TABLE outpost.events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id          bigint REFERENCES outpost.messages (id) ON DELETE SET NULL,
    provider            text NOT NULL,
    provider_event_id   text,
    provider_message_id text,
    event               text NOT NULL,
    payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at         timestamptz,
    received_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_provider_event_unique UNIQUE (provider, provider_event_id)
);
CREATE INDEX events_message_idx ON outpost.events (message_id, received_at);

-- One NOTIFY per INSERT statement, however many rows it inserts.
CREATE FUNCTION outpost.notify_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outpost_messages', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_notify AFTER INSERT ON outpost.messages
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.notify_messages();
