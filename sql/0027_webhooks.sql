-- Signed webhooks to the application (issue 29): endpoints an application
-- registers (outpost.webhook_endpoints), and for every event one of them
-- subscribes to, one row of kind 'webhook' in outpost.messages, written by a
-- trigger in the same transaction as the fact (a message's status change, a
-- received e-mail, a chat message). So a delivery is durable, claimed,
-- leased, retried and audited (an attempt row per try) like every message.
-- The daemon's webhook channel POSTs the row's body, signed as Standard
-- Webhooks specifies, to the endpoint named by to_address (its id).

ALTER TABLE outpost.messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE outpost.messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('email', 'sms', 'voice', 'push', 'chat', 'webhook'));

CREATE TABLE outpost.webhook_endpoints (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url             text NOT NULL
        CHECK (url ~ '^https?://[^/?#[:space:]]+' AND octet_length(url) <= 2048),
    -- whsec_ and the key in base64 (Standard Webhooks); never shown again
    -- after outpost.webhook_endpoint_add returns it.
    secret          text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]{32,}=*$'),
    event_types     text[] NOT NULL
        CONSTRAINT webhook_endpoints_event_types_check CHECK (
            cardinality(event_types) > 0
            AND event_types <@ ARRAY['message.sent', 'message.delivered', 'message.bounced',
                                     'message.failed', 'message.suppressed', 'message.escalated',
                                     'inbound.received', 'chat.message']::text[]),
    -- NULL: every tenant's events (an endpoint of a role without a tenant).
    tenant          text CHECK (btrim(tenant) <> '' AND octet_length(tenant) <= 1024),
    enabled         boolean NOT NULL DEFAULT true,
    description     text CHECK (octet_length(description) <= 1024),
    -- Why it was disabled (by whom, or the receiver's 410 Gone).
    disabled_reason text CHECK (octet_length(disabled_reason) <= 4096),
    -- Each delivery is tried at most max_attempts times within retry_for.
    max_attempts    int NOT NULL DEFAULT 50 CHECK (max_attempts BETWEEN 1 AND 1000),
    retry_for       interval NOT NULL DEFAULT '1 day'
        CHECK (retry_for > interval '0' AND retry_for <= interval '7 days'),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON outpost.webhook_endpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.webhook_endpoints TO outpost_daemon;
-- An application reads its endpoints, never their secrets.
GRANT SELECT (id, url, event_types, tenant, enabled, description, disabled_reason, max_attempts,
              retry_for, created_by, created_at, updated_at)
    ON outpost.webhook_endpoints TO outpost_app;
ALTER TABLE outpost.webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.webhook_endpoints FOR SELECT TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));
CREATE POLICY daemon_rows ON outpost.webhook_endpoints TO outpost_daemon
    USING (true) WITH CHECK (true);

-- A new secret: whsec_ and 32 bytes of two random UUIDs (244 random bits
-- from the server's strong random source), in base64.
CREATE FUNCTION outpost.webhook_secret() RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'whsec_' || encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64');
$$;

-- Registers an endpoint; returns its id and its secret (shown this once).
-- A role with a tenant registers for its own tenant only.
CREATE FUNCTION outpost.webhook_endpoint_add(
    url         text,
    event_types text[],
    tenant      text DEFAULT NULL,
    description text DEFAULT NULL,
    caller      name DEFAULT current_user
) RETURNS TABLE (id bigint, secret text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mine text := outpost.acting_tenant(webhook_endpoint_add.caller);
    unknown text[];
    new_id bigint;
    new_secret text := outpost.webhook_secret();
BEGIN
    IF mine IS NOT NULL AND webhook_endpoint_add.tenant IS DISTINCT FROM mine
       AND webhook_endpoint_add.tenant IS NOT NULL THEN
        RAISE EXCEPTION 'outpost: tenant % is not yours (%)', left(webhook_endpoint_add.tenant, 100), mine
            USING ERRCODE = '42501';
    END IF;
    IF webhook_endpoint_add.url IS NULL OR btrim(webhook_endpoint_add.url) !~ '^https?://[^/?#[:space:]]+' THEN
        RAISE EXCEPTION 'outpost.webhook_endpoint_add: the url must be an http(s) URL with a host'
            USING ERRCODE = '22023';
    END IF;
    unknown := ARRAY(SELECT t FROM unnest(webhook_endpoint_add.event_types) t
                     WHERE t IS NULL OR t <> ALL (outpost.webhook_event_types()));
    IF coalesce(cardinality(webhook_endpoint_add.event_types), 0) = 0 OR cardinality(unknown) > 0 THEN
        RAISE EXCEPTION 'outpost.webhook_endpoint_add: unknown event types % (known: %)',
            coalesce(unknown, '{}'), array_to_string(outpost.webhook_event_types(), ', ')
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO outpost.webhook_endpoints AS e (url, secret, event_types, tenant, description, created_by)
    VALUES (btrim(webhook_endpoint_add.url), new_secret,
            ARRAY(SELECT DISTINCT t FROM unnest(webhook_endpoint_add.event_types) t ORDER BY 1),
            coalesce(mine, webhook_endpoint_add.tenant), webhook_endpoint_add.description,
            webhook_endpoint_add.caller)
    RETURNING e.id INTO new_id;
    INSERT INTO outpost.console_audit (actor, action, object, after)
    VALUES (format('role %s', webhook_endpoint_add.caller), 'webhook.add',
            format('webhook endpoint %s', new_id),
            (SELECT to_jsonb(e) - 'secret' FROM outpost.webhook_endpoints e WHERE e.id = new_id));
    RETURN QUERY SELECT new_id, new_secret;
END;
$$;

-- The event types an endpoint may subscribe to (the CHECK above lists them too).
CREATE FUNCTION outpost.webhook_event_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['message.sent', 'message.delivered', 'message.bounced', 'message.failed',
                 'message.suppressed', 'message.escalated', 'inbound.received', 'chat.message'];
$$;

-- Enables or disables an endpoint (the caller's tenant's only). Disabling
-- cancels its queued deliveries (outpost.retry or a replay sends them again);
-- returns whether the endpoint changed.
CREATE FUNCTION outpost.webhook_endpoint_set_enabled(endpoint_id bigint, enabled boolean,
                                                     reason text, caller name)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    before_row outpost.webhook_endpoints;
BEGIN
    SELECT * INTO before_row FROM outpost.webhook_endpoints e
    WHERE e.id = webhook_endpoint_set_enabled.endpoint_id FOR UPDATE;
    PERFORM outpost.require_tenant(CASE WHEN before_row.id IS NULL THEN '(none)' ELSE before_row.tenant END,
        format('webhook endpoint %s', endpoint_id), caller);
    IF before_row.id IS NULL OR before_row.enabled = webhook_endpoint_set_enabled.enabled THEN
        RETURN false;
    END IF;
    UPDATE outpost.webhook_endpoints e
    SET enabled = webhook_endpoint_set_enabled.enabled,
        disabled_reason = CASE WHEN webhook_endpoint_set_enabled.enabled THEN NULL
                               ELSE left(reason, 4096) END,
        updated_at = now()
    WHERE e.id = endpoint_id;
    IF NOT webhook_endpoint_set_enabled.enabled THEN
        PERFORM outpost.webhook_cancel_queued(endpoint_id, 'cancelled: the webhook endpoint was disabled');
    END IF;
    INSERT INTO outpost.console_audit (actor, action, object, before, after)
    VALUES (format('role %s', caller),
            CASE WHEN webhook_endpoint_set_enabled.enabled THEN 'webhook.enable' ELSE 'webhook.disable' END,
            format('webhook endpoint %s', endpoint_id),
            jsonb_build_object('enabled', before_row.enabled),
            jsonb_build_object('enabled', webhook_endpoint_set_enabled.enabled, 'reason', reason));
    RETURN true;
END;
$$;

CREATE FUNCTION outpost.webhook_cancel_queued(endpoint_id bigint, why text) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    UPDATE outpost.messages m
    SET status = 'cancelled', last_error = why, finished_at = now(), updated_at = now()
    FROM outpost.message_keys k
    WHERE k.to_address = endpoint_id::text AND m.id = k.message_id
      AND m.kind = 'webhook' AND m.status = 'queued';
$$;

CREATE FUNCTION outpost.webhook_endpoint_disable(endpoint_id bigint, caller name DEFAULT current_user)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT outpost.webhook_endpoint_set_enabled(endpoint_id, false, format('disabled by %s', caller), caller);
$$;
CREATE FUNCTION outpost.webhook_endpoint_enable(endpoint_id bigint, caller name DEFAULT current_user)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT outpost.webhook_endpoint_set_enabled(endpoint_id, true, NULL, caller);
$$;

-- Removes an endpoint; its queued deliveries are cancelled, its past ones stay.
CREATE FUNCTION outpost.webhook_endpoint_remove(endpoint_id bigint, caller name DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    gone outpost.webhook_endpoints;
BEGIN
    SELECT * INTO gone FROM outpost.webhook_endpoints e WHERE e.id = endpoint_id FOR UPDATE;
    PERFORM outpost.require_tenant(CASE WHEN gone.id IS NULL THEN '(none)' ELSE gone.tenant END,
        format('webhook endpoint %s', endpoint_id), caller);
    IF gone.id IS NULL THEN
        RETURN false;
    END IF;
    DELETE FROM outpost.webhook_endpoints e WHERE e.id = endpoint_id;
    PERFORM outpost.webhook_cancel_queued(endpoint_id, 'cancelled: the webhook endpoint was removed');
    INSERT INTO outpost.console_audit (actor, action, object, before)
    VALUES (format('role %s', caller), 'webhook.remove', format('webhook endpoint %s', endpoint_id),
            to_jsonb(gone) - 'secret');
    RETURN true;
END;
$$;

-- Enqueues a copy of delivery `message_id` (same endpoint, body and
-- webhook-id, signed anew when sent); returns the new delivery's id.
CREATE FUNCTION outpost.webhook_replay(message_id bigint, caller name DEFAULT current_user)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    original outpost.messages;
    endpoint outpost.webhook_endpoints;
    new_id bigint;
BEGIN
    SELECT * INTO original FROM outpost.messages m
    WHERE m.id = webhook_replay.message_id AND m.kind = 'webhook';
    PERFORM outpost.require_tenant(CASE WHEN original.id IS NULL THEN '(none)' ELSE original.tenant END,
        format('webhook delivery %s', message_id), caller);
    IF original.id IS NULL THEN
        RAISE EXCEPTION 'outpost.webhook_replay: % is not a webhook delivery', message_id
            USING ERRCODE = 'P0002';
    END IF;
    SELECT * INTO endpoint FROM outpost.webhook_endpoints e WHERE e.id::text = original.to_address;
    IF endpoint.id IS NULL THEN
        RAISE EXCEPTION 'outpost.webhook_replay: the endpoint of delivery % was removed', message_id
            USING ERRCODE = 'P0002';
    END IF;
    INSERT INTO outpost.messages AS m (kind, to_address, subject, body, options, tenant, max_attempts,
                                       expires_at)
    VALUES ('webhook', original.to_address, original.subject, original.body,
            original.options || jsonb_build_object('replay_of', original.id), original.tenant,
            endpoint.max_attempts, now() + endpoint.retry_for)
    RETURNING m.id INTO new_id;
    RETURN new_id;
END;
$$;

REVOKE EXECUTE ON FUNCTION outpost.webhook_secret(),
    outpost.webhook_endpoint_add(text, text[], text, text, name),
    outpost.webhook_endpoint_set_enabled(bigint, boolean, text, name),
    outpost.webhook_cancel_queued(bigint, text),
    outpost.webhook_endpoint_disable(bigint, name), outpost.webhook_endpoint_enable(bigint, name),
    outpost.webhook_endpoint_remove(bigint, name), outpost.webhook_replay(bigint, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.webhook_endpoint_add(text, text[], text, text, name),
    outpost.webhook_endpoint_disable(bigint, name), outpost.webhook_endpoint_enable(bigint, name),
    outpost.webhook_endpoint_remove(bigint, name), outpost.webhook_replay(bigint, name)
    TO outpost_app, outpost_daemon;
-- The daemon disables an endpoint whose receiver answered 410 Gone.
GRANT EXECUTE ON FUNCTION outpost.webhook_endpoint_set_enabled(bigint, boolean, text, name),
    outpost.webhook_cancel_queued(bigint, text) TO outpost_daemon;

-- Writes one delivery of `event` for every enabled endpoint that subscribes
-- to it and may see `tenant` (its own, or every tenant's for an endpoint
-- without one): the body is the payload as sent and signed, options carry
-- the webhook-id (one per event, as Standard Webhooks' message id). Each
-- delivery is its endpoint's tenant's, so another tenant never sees it.
CREATE FUNCTION outpost.webhook_emit(event text, tenant text, data jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outpost.webhook_endpoints e
                   WHERE e.enabled AND webhook_emit.event = ANY (e.event_types)
                     AND (e.tenant IS NULL OR e.tenant = webhook_emit.tenant)) THEN
        RETURN;
    END IF;
    INSERT INTO outpost.messages (kind, to_address, subject, body, options, tenant, max_attempts,
                                  expires_at)
    SELECT 'webhook', e.id::text, webhook_emit.event, p.body, p.options, e.tenant, e.max_attempts,
           now() + e.retry_for
    FROM outpost.webhook_endpoints e
    CROSS JOIN (SELECT jsonb_build_object(
                           'type', webhook_emit.event,
                           'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                           'data', webhook_emit.data)::text AS body,
                       jsonb_build_object('webhook_id',
                           'msg_' || replace(gen_random_uuid()::text, '-', '')) AS options) p
    WHERE e.enabled AND webhook_emit.event = ANY (e.event_types)
      AND (e.tenant IS NULL OR e.tenant = webhook_emit.tenant);
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.webhook_emit(text, text, jsonb) FROM PUBLIC;

-- A message's status change: sent, delivered, bounced, failed (or
-- expired), suppressed. A row trigger whose WHEN clause passes over every
-- other update (claims, lease renewals) without a call; and it is enabled
-- only while some endpoint is (webhook_triggers_sync below), so an outbox
-- with no endpoint pays nothing for it. (Measured: as a statement trigger
-- over transition tables it cost about 0.6 ms an UPDATE statement, claims
-- included; always enabled as a row trigger, about 1.6 µs a finished
-- message.)
CREATE FUNCTION outpost.webhook_message_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM outpost.webhook_emit(
        CASE NEW.status WHEN 'sent' THEN 'message.sent' WHEN 'delivered' THEN 'message.delivered'
                        WHEN 'bounced' THEN 'message.bounced'
                        WHEN 'suppressed' THEN 'message.suppressed' ELSE 'message.failed' END,
        NEW.tenant,
        jsonb_build_object('id', NEW.id, 'kind', NEW.kind, 'status', NEW.status,
                           'to_user', NEW.to_user, 'tenant', NEW.tenant,
                           'idempotency_key', NEW.idempotency_key, 'attempts', NEW.attempts,
                           'provider_message_id', NEW.provider_message_id,
                           'error', left(NEW.last_error, 1000),
                           'sent_at', NEW.sent_at, 'finished_at', NEW.finished_at));
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_webhook AFTER UPDATE OF status ON outpost.messages
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.kind <> 'webhook'
          AND NEW.status IN ('sent', 'delivered', 'bounced', 'failed', 'expired', 'suppressed'))
    EXECUTE FUNCTION outpost.webhook_message_status();

-- Enables the outbox's webhook trigger while an endpoint is enabled, and
-- disables it when none is, whoever changed the endpoints (the helpers, the
-- console, a receiver's 410 Gone). Enabling or disabling a trigger takes a
-- brief lock on outpost.messages (writes wait for this transaction).
CREATE FUNCTION outpost.webhook_triggers_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wanted boolean := EXISTS (SELECT 1 FROM outpost.webhook_endpoints e WHERE e.enabled);
    enabled boolean;
BEGIN
    SELECT t.tgenabled <> 'D' INTO enabled FROM pg_trigger t
    WHERE t.tgrelid = 'outpost.messages'::regclass AND t.tgname = 'messages_webhook';
    IF wanted AND NOT enabled THEN
        ALTER TABLE outpost.messages ENABLE TRIGGER messages_webhook;
    ELSIF enabled AND NOT wanted THEN
        ALTER TABLE outpost.messages DISABLE TRIGGER messages_webhook;
    END IF;
    RETURN NULL;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.webhook_triggers_sync() FROM PUBLIC;
CREATE TRIGGER webhook_endpoints_sync
    AFTER INSERT OR UPDATE OF enabled OR DELETE ON outpost.webhook_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.webhook_triggers_sync();
-- No endpoint yet.
ALTER TABLE outpost.messages DISABLE TRIGGER messages_webhook;

-- A received e-mail (its routed tenant; the text stays in inbound_emails).
CREATE FUNCTION outpost.webhook_inbound() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM outpost.webhook_endpoints e WHERE e.enabled) THEN
        PERFORM outpost.webhook_emit('inbound.received', NEW.tenant,
            jsonb_build_object('id', NEW.id, 'from', left(NEW.from_address, 1024),
                               'to', left(NEW.to_addresses, 4096), 'subject', left(NEW.subject, 1024),
                               'tenant', NEW.tenant, 'received_at', NEW.received_at));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbound_emails_webhook AFTER INSERT ON outpost.inbound_emails
    FOR EACH ROW EXECUTE FUNCTION outpost.webhook_inbound();

-- A chat message (its channel's tenant; bodies beyond 64 KiB cut, and said).
CREATE FUNCTION outpost.webhook_chat() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text;
BEGIN
    IF EXISTS (SELECT 1 FROM outpost.webhook_endpoints e WHERE e.enabled) THEN
        SELECT c.tenant INTO the_tenant FROM outpost.chat_channels c WHERE c.id = NEW.channel_id;
        PERFORM outpost.webhook_emit('chat.message', the_tenant,
            jsonb_build_object('id', NEW.id, 'channel_id', NEW.channel_id, 'sender', NEW.sender,
                               'body', left(NEW.body, 65536),
                               'body_truncated', octet_length(NEW.body) > 65536,
                               'format', NEW.format, 'tenant', the_tenant,
                               'created_at', NEW.created_at));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER chat_messages_webhook AFTER INSERT ON outpost.chat_messages
    FOR EACH ROW EXECUTE FUNCTION outpost.webhook_chat();

-- An application's view of its deliveries: one row per delivery, with its
-- last attempt (the receiver's HTTP status in last_code). Filtered by the
-- caller's tenant, as message_status is.
CREATE VIEW outpost.webhook_deliveries WITH (security_barrier = true) AS
SELECT m.id, e.id AS endpoint_id, e.url, m.subject AS event_type,
       m.options ->> 'webhook_id' AS webhook_id, (m.options ->> 'replay_of')::bigint AS replay_of,
       m.status, m.attempts, m.max_attempts, m.last_error, k.tenant, k.created_at, m.run_at,
       m.expires_at, m.sent_at, m.finished_at, a.provider_code AS last_code,
       a.finished_at AS last_attempt_at, m.body AS payload
FROM outpost.webhook_endpoints e
JOIN outpost.message_keys k ON k.to_address = e.id::text
JOIN outpost.messages m ON m.id = k.message_id AND m.kind = 'webhook'
LEFT JOIN LATERAL (
    SELECT a.* FROM outpost.attempts a WHERE a.message_id = m.id
    ORDER BY a.attempt DESC LIMIT 1) a ON true
WHERE (SELECT outpost.caller_tenant()) IS NULL OR k.tenant = (SELECT outpost.caller_tenant());
GRANT SELECT ON outpost.webhook_deliveries TO outpost_app;
