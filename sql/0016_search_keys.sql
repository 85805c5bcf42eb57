-- Search keys kept beside messages, written once. Every update of a message
-- that cannot be HOT (the claim and the outcome both change indexed columns)
-- inserts an entry into every index of outpost.messages, whether or not the
-- indexed column changed. The indexes by recipient and tenant took two
-- entries per delivered message that way; here they live on an insert-only
-- table filled when a message is inserted, so delivering a message no longer
-- touches them. The console's search and `outpost status --user` join it
-- (message_id = messages.id, one row per message).
-- The status index keeps only the statuses a search needs it for: 'sending'
-- is served by messages_lease_idx and 'sent' is the common end state, so the
-- claim and the outcome write no entry into it (BENCHMARKS.md, issue 19).
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

CREATE TABLE outpost.message_keys (
    message_id  bigint PRIMARY KEY,
    to_user     text,
    to_address  text,
    tenant      text,
    created_at  timestamptz NOT NULL
);

-- One row per message (every message has a recipient: messages_recipient_check).
INSERT INTO outpost.message_keys (message_id, to_user, to_address, tenant, created_at)
SELECT id, to_user, to_address, tenant, created_at
FROM outpost.messages;

CREATE INDEX message_keys_to_user_idx ON outpost.message_keys (to_user, created_at)
    WHERE to_user IS NOT NULL;
CREATE INDEX message_keys_to_address_idx ON outpost.message_keys (to_address, message_id)
    WHERE to_address IS NOT NULL;
CREATE INDEX message_keys_tenant_idx ON outpost.message_keys (tenant, message_id)
    WHERE tenant IS NOT NULL;

DROP INDEX outpost.messages_to_user_idx;
DROP INDEX outpost.messages_to_address_id_idx;
DROP INDEX outpost.messages_tenant_id_idx;
DROP INDEX outpost.messages_status_id_idx;
CREATE INDEX messages_status_id_idx ON outpost.messages (status, id)
    WHERE status NOT IN ('sending', 'sent');

-- New messages, however inserted (the helpers, a plain INSERT, COPY).
CREATE FUNCTION outpost.message_keys_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, outpost AS $$
BEGIN
    INSERT INTO outpost.message_keys (message_id, to_user, to_address, tenant, created_at)
    SELECT id, to_user, to_address, tenant, created_at
    FROM new_messages;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_keys_insert AFTER INSERT ON outpost.messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.message_keys_insert();

-- The daemon never changes these columns; an application or an operator may.
CREATE FUNCTION outpost.message_keys_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, outpost AS $$
BEGIN
    INSERT INTO outpost.message_keys (message_id, to_user, to_address, tenant, created_at)
    VALUES (NEW.id, NEW.to_user, NEW.to_address, NEW.tenant, NEW.created_at)
    ON CONFLICT (message_id) DO UPDATE
    SET to_user = EXCLUDED.to_user, to_address = EXCLUDED.to_address,
        tenant = EXCLUDED.tenant, created_at = EXCLUDED.created_at;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_keys_update
    AFTER UPDATE OF to_user, to_address, tenant, created_at ON outpost.messages
    FOR EACH ROW
    WHEN (OLD.to_user IS DISTINCT FROM NEW.to_user
          OR OLD.to_address IS DISTINCT FROM NEW.to_address
          OR OLD.tenant IS DISTINCT FROM NEW.tenant
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION outpost.message_keys_update();

-- Deleting or truncating messages removes their attempts (0009) and now their
-- keys: one statement trigger each, doing both, in place of 0009's.
DROP TRIGGER messages_delete_attempts ON outpost.messages;
DROP TRIGGER messages_truncate_attempts ON outpost.messages;
DROP FUNCTION outpost.delete_attempts_of_deleted_messages();
DROP FUNCTION outpost.truncate_attempts();

CREATE FUNCTION outpost.delete_rows_of_deleted_messages() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, outpost AS $$
BEGIN
    DELETE FROM outpost.attempts a USING deleted_messages d WHERE a.message_id = d.id;
    DELETE FROM outpost.message_keys k USING deleted_messages d WHERE k.message_id = d.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_delete_rows AFTER DELETE ON outpost.messages
    REFERENCING OLD TABLE AS deleted_messages
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.delete_rows_of_deleted_messages();

CREATE FUNCTION outpost.truncate_rows_of_messages() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, outpost AS $$
BEGIN
    TRUNCATE outpost.attempts, outpost.message_keys;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_truncate_rows AFTER TRUNCATE ON outpost.messages
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.truncate_rows_of_messages();

-- The audit view reads recipient, tenant and creation time from the keys, so
-- `message_status WHERE to_user = … AND created_at >= …` (README, Auditing)
-- keeps an index: message_keys_to_user_idx.
CREATE OR REPLACE VIEW outpost.message_status AS
SELECT m.id, m.kind, m.status, k.to_user, k.to_address, k.tenant, m.template, m.subject,
       m.priority, m.attempts, m.max_attempts, m.provider_message_id, m.last_error,
       m.segments, k.created_at, m.run_at, m.expires_at, m.sent_at, m.finished_at, m.updated_at,
       a.attempt AS last_attempt, a.provider AS last_provider, a.outcome AS last_outcome,
       a.worker AS last_worker, a.started_at AS last_attempt_started_at,
       a.finished_at AS last_attempt_finished_at, a.error AS last_attempt_error,
       a.note AS last_attempt_note,
       e.event AS last_event, e.received_at AS last_event_at,
       coalesce(d.reached, 0) >= 2 AS possible_duplicate,
       m.deferrals
FROM outpost.messages m
JOIN outpost.message_keys k ON k.message_id = m.id
LEFT JOIN LATERAL (
    SELECT * FROM outpost.attempts a WHERE a.message_id = m.id ORDER BY a.attempt DESC LIMIT 1
) a ON true
LEFT JOIN LATERAL (
    SELECT * FROM outpost.events e WHERE e.message_id = m.id ORDER BY e.received_at DESC, e.id DESC LIMIT 1
) e ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS reached FROM outpost.attempts x
    WHERE x.message_id = m.id AND x.outcome IN ('sent', 'unknown')
) d ON true;

GRANT SELECT ON outpost.message_keys TO outpost_daemon;
