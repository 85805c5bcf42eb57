-- Auditing (the message_status view and the indexes its queries need) and
-- least-privilege roles: outpost_app for applications, outpost_daemon for
-- the daemon. Run migrations as the schema owner; grant the roles to login
-- roles, e.g. GRANT outpost_app TO webapp; GRANT outpost_daemon TO outpost.

CREATE INDEX messages_created_idx ON outpost.messages (created_at);
CREATE INDEX attempts_started_idx ON outpost.attempts (started_at);

-- One row per message with its latest attempt and latest provider event.
CREATE VIEW outpost.message_status AS
SELECT m.id, m.kind, m.status, m.to_user, m.to_address, m.tenant, m.template, m.subject,
       m.priority, m.attempts, m.max_attempts, m.provider_message_id, m.last_error,
       m.segments, m.created_at, m.run_at, m.expires_at, m.sent_at, m.finished_at, m.updated_at,
       a.attempt AS last_attempt, a.provider AS last_provider, a.outcome AS last_outcome,
       a.worker AS last_worker, a.started_at AS last_attempt_started_at,
       a.finished_at AS last_attempt_finished_at, a.error AS last_attempt_error,
       a.note AS last_attempt_note,
       e.event AS last_event, e.received_at AS last_event_at
FROM outpost.messages m
LEFT JOIN LATERAL (
    SELECT * FROM outpost.attempts a WHERE a.message_id = m.id ORDER BY a.attempt DESC LIMIT 1
) a ON true
LEFT JOIN LATERAL (
    SELECT * FROM outpost.events e WHERE e.message_id = m.id ORDER BY e.received_at DESC, e.id DESC LIMIT 1
) e ON true;

DO $$
BEGIN
    BEGIN
        CREATE ROLE outpost_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE outpost_daemon NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
END;
$$;

-- Functions that change rows the app may not touch directly run with the
-- owner's rights, on a fixed search path.
ALTER FUNCTION outpost.cancel(bigint) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION outpost.retry(bigint, int) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION outpost.send_system_message(text, text, text, text, bigint, boolean)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION outpost.send_system_message_template(text, text, jsonb, text, text, timestamptz)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION outpost.chat_mark_read(bigint, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION outpost.chat_message_fanout() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Applications: enqueue, register recipients, read statuses and chat; no
-- secrets, no updates or deletes of rows.
GRANT USAGE ON SCHEMA outpost TO outpost_app;
GRANT INSERT ON outpost.messages, outpost.recipients TO outpost_app;
-- Enough to get the id back (RETURNING) and find a repeated idempotency key.
GRANT SELECT (id, idempotency_key) ON outpost.messages TO outpost_app;
GRANT SELECT ON outpost.message_status TO outpost_app;
GRANT SELECT ON outpost.chat_channels, outpost.chat_members, outpost.chat_messages TO outpost_app;
GRANT INSERT (channel_id, sender, body) ON outpost.chat_messages TO outpost_app;
GRANT SELECT ON outpost.messaging_configs TO outpost_app;

-- The daemon: everything in the schema except changing its structure.
GRANT USAGE ON SCHEMA outpost TO outpost_daemon;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA outpost TO outpost_daemon;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA outpost TO outpost_daemon;
