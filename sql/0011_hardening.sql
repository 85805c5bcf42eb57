-- Hardening: received data that PostgreSQL text cannot hold is stored
-- anyway (and says so); the application role inserts only the columns an
-- application may set; a chat message's tenant is the recipient's.
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

-- The raw MIME message exactly as received (raw mode), NUL bytes included;
-- raw_message keeps its readable text form.
ALTER TABLE outpost.inbound_emails ADD COLUMN raw_bytes bytea;
-- What had to change to store the mail, e.g. "NUL bytes replaced with U+FFFD
-- in: subject, text"; NULL when it was stored as received.
ALTER TABLE outpost.inbound_emails ADD COLUMN note text;
-- The same for a provider event's payload (jsonb cannot hold \u0000).
ALTER TABLE outpost.events ADD COLUMN note text;

-- Applications insert messages with the columns they may set; status,
-- attempts, leases, worker, provider ids, errors and timestamps are the
-- daemon's. The helpers insert only these columns, so they keep working.
REVOKE INSERT ON outpost.messages FROM outpost_app;
GRANT INSERT (kind, to_user, to_address, template, context, locale, subject, body, html,
              options, provider, tenant, priority, run_at, expires_at, idempotency_key,
              max_attempts)
    ON outpost.messages TO outpost_app;

-- The tenant whose messaging settings apply is the recipient's
-- (outpost.recipients.tenant), never the caller's say-so: a tenant argument
-- that is not the recipient's is refused.
CREATE OR REPLACE FUNCTION outpost.send_system_message(
    to_user           text,
    message           text,
    format            text DEFAULT 'plaintext',
    tenant            text DEFAULT NULL,
    outbox_message_id bigint DEFAULT NULL,
    notify            boolean DEFAULT true
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text :=
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = send_system_message.to_user);
    config outpost.messaging_configs;
    channel bigint;
    new_id bigint;
BEGIN
    IF send_system_message.tenant IS NOT NULL
       AND send_system_message.tenant IS DISTINCT FROM the_tenant THEN
        RAISE EXCEPTION 'tenant % is not the tenant of user %', send_system_message.tenant,
            send_system_message.to_user
            USING ERRCODE = 'P0001';
    END IF;
    SELECT * INTO config FROM outpost.messaging_configs c WHERE c.tenant = the_tenant AND c.enabled;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'messaging not enabled for tenant %', coalesce(the_tenant, '(none)')
            USING ERRCODE = 'P0001';
    END IF;
    INSERT INTO outpost.chat_channels (kind, owner, tenant, subject)
    VALUES ('private', send_system_message.to_user, the_tenant, 'Notifications')
    ON CONFLICT (owner) WHERE kind = 'private' DO NOTHING;
    SELECT c.id INTO channel FROM outpost.chat_channels c
    WHERE c.kind = 'private' AND c.owner = send_system_message.to_user;
    INSERT INTO outpost.chat_members (channel_id, user_id) VALUES (channel, send_system_message.to_user)
    ON CONFLICT DO NOTHING;
    INSERT INTO outpost.chat_messages (channel_id, sender, body, format, outbox_message_id)
    VALUES (channel, NULL, send_system_message.message, coalesce(send_system_message.format, 'plaintext'),
            send_system_message.outbox_message_id)
    RETURNING id INTO new_id;
    IF notify AND config.push_on_message THEN
        PERFORM outpost.enqueue('push', to_user => send_system_message.to_user,
            body => outpost.chat_alert(send_system_message.message, coalesce(send_system_message.format, 'plaintext')),
            tenant => the_tenant,
            options => jsonb_build_object('chat_channel_id', channel, 'chat_message_id', new_id));
    END IF;
    RETURN new_id;
END;
$$;

-- Mirroring follows the same rule: the recipient's tenant decides.
CREATE OR REPLACE FUNCTION outpost.mirror_to_chat(to_user text, subject text, body text,
                                                  outbox_message_id bigint, tenant text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    the_tenant text :=
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = mirror_to_chat.to_user);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outpost.messaging_configs c WHERE c.tenant = the_tenant AND c.enabled) THEN
        RETURN NULL;
    END IF;
    RETURN outpost.send_system_message(mirror_to_chat.to_user,
        concat_ws(E'\n\n', nullif(btrim(subject, E' \t\r\n'), ''), nullif(btrim(body, E' \t\r\n'), '')),
        'plaintext', NULL, mirror_to_chat.outbox_message_id, false);
END;
$$;
