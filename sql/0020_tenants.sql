-- Tenants as walls, in PostgreSQL itself. A login role mapped to a tenant
-- (outpost.grant_tenant, or `outpost tenant grant ROLE TENANT`) sees and
-- acts on only that tenant's rows in every table and view the application
-- role can read (row-level security), and every SECURITY DEFINER helper it
-- may call refuses another tenant's ids, users and channels. A role with no
-- mapping keeps the behaviour of before: it sees everything, as a
-- one-tenant deployment always has. The daemon (the schema's owner, or a
-- member of outpost_daemon) sees everything.

CREATE TABLE outpost.tenant_roles (
    role       name PRIMARY KEY,
    tenant     text NOT NULL CHECK (btrim(tenant) <> '' AND octet_length(tenant) <= 1024),
    granted_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON outpost.tenant_roles FROM PUBLIC;
GRANT SELECT ON outpost.tenant_roles TO outpost_daemon;

-- The tenant of the calling role (current_user: the role a SET ROLE chose),
-- NULL when it has none. It reads tenant_roles with the caller's own
-- rights, where a role sees only its own mapping.
GRANT SELECT ON outpost.tenant_roles TO outpost_app;
ALTER TABLE outpost.tenant_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mapping ON outpost.tenant_roles FOR SELECT TO outpost_app
    USING (role = current_user);
CREATE POLICY daemon_rows ON outpost.tenant_roles FOR SELECT TO outpost_daemon USING (true);
CREATE FUNCTION outpost.caller_tenant() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.tenant FROM outpost.tenant_roles t WHERE t.role = current_user;
$$;

-- Inside the helpers that run with the owner's rights, current_user is the
-- owner: they take the calling role as an argument that defaults to
-- current_user where the call is written, and accept only a role the
-- session could SET ROLE to, so nobody acts as another role.
CREATE FUNCTION outpost.acting_tenant(caller name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF caller IS NULL OR (caller <> session_user AND NOT pg_has_role(session_user, caller, 'MEMBER')) THEN
        RAISE EXCEPTION 'outpost: role % may not act as role %', session_user, left(caller, 100)
            USING ERRCODE = '42501';
    END IF;
    RETURN (SELECT t.tenant FROM outpost.tenant_roles t WHERE t.role = caller);
END;
$$;

-- Raises, with a clear message, unless a row of `row_tenant` is the
-- caller's (always, for a caller without a tenant).
CREATE FUNCTION outpost.require_tenant(row_tenant text, what text, caller name) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mine text := outpost.acting_tenant(caller);
BEGIN
    IF mine IS NOT NULL AND row_tenant IS DISTINCT FROM mine THEN
        RAISE EXCEPTION 'outpost: % is not in tenant %', left(what, 200), left(mine, 100)
            USING ERRCODE = '42501';
    END IF;
END;
$$;
-- The tenant of recipient `user_id`, refused (an unknown user too) unless
-- it is the caller's.
CREATE FUNCTION outpost.require_user(user_id text, caller name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    theirs text := (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = require_user.user_id);
BEGIN
    PERFORM outpost.require_tenant(theirs, format('user %s', left(user_id, 100)), caller);
    RETURN theirs;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.acting_tenant(name), outpost.require_tenant(text, text, name),
    outpost.require_user(text, name) FROM PUBLIC;

-- Whether the caller may write the daemon's own idempotency keys
-- ('schedule:…'): the schema's owner and members of outpost_daemon.
CREATE FUNCTION outpost.is_daemon(caller name DEFAULT current_user) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_has_role(caller, 'outpost_daemon', 'MEMBER')
        OR pg_has_role(caller, (SELECT c.relowner FROM pg_class c
                                WHERE c.oid = 'outpost.messages'::regclass), 'MEMBER');
$$;

-- An application role reads the user ids and tenants of the recipients it
-- may see (so that a message's tenant can be taken from its user's).
GRANT SELECT (user_id, tenant) ON outpost.recipients TO outpost_app;
GRANT SELECT (id, idempotency_key, tenant) ON outpost.messages TO outpost_app;

-- The operator's commands: map a login role to a tenant (and make it an
-- application role), or take the mapping away.
CREATE FUNCTION outpost.grant_tenant(role name, tenant text) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF grant_tenant.tenant IS NULL OR btrim(grant_tenant.tenant) = '' THEN
        RAISE EXCEPTION 'outpost.grant_tenant: the tenant must not be empty';
    END IF;
    INSERT INTO outpost.tenant_roles AS t (role, tenant) VALUES (grant_tenant.role, grant_tenant.tenant)
    ON CONFLICT (role) DO UPDATE SET tenant = EXCLUDED.tenant, granted_at = now();
    EXECUTE format('GRANT outpost_app TO %I', grant_tenant.role);
END;
$$;
CREATE FUNCTION outpost.revoke_tenant(role name) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM outpost.tenant_roles t WHERE t.role = revoke_tenant.role;
$$;
REVOKE EXECUTE ON FUNCTION outpost.grant_tenant(name, text), outpost.revoke_tenant(name) FROM PUBLIC;

-- Every message to a user carries that user's tenant, whoever enqueues it;
-- a tenant's role writes only its own, to its own users; the daemon's keys
-- are its own. Runs with the inserting role's rights, so the recipients it
-- reads are those that role may see.
CREATE FUNCTION outpost.messages_tenant() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mine text := outpost.caller_tenant();
    theirs text;
    known boolean := false;
BEGIN
    IF NEW.to_user IS NOT NULL THEN
        SELECT r.tenant, true INTO theirs, known FROM outpost.recipients r
        WHERE r.user_id = NEW.to_user;
        IF mine IS NOT NULL AND NOT coalesce(known, false) THEN
            RAISE EXCEPTION 'outpost: user % is not a recipient of tenant %', left(NEW.to_user, 100), mine
                USING ERRCODE = '42501';
        END IF;
    END IF;
    IF NEW.tenant IS NOT NULL AND NEW.tenant IS DISTINCT FROM coalesce(mine, theirs, NEW.tenant) THEN
        RAISE EXCEPTION 'outpost: tenant % is not %', left(NEW.tenant, 100),
            CASE WHEN mine IS NOT NULL THEN format('yours (%s)', mine)
                 ELSE format('the tenant of user %s (%s)', left(NEW.to_user, 100), left(theirs, 100)) END
            USING ERRCODE = '42501';
    END IF;
    NEW.tenant := coalesce(mine, theirs, NEW.tenant);
    IF NEW.idempotency_key LIKE 'schedule:%' AND NOT outpost.is_daemon() THEN
        RAISE EXCEPTION 'outpost: idempotency keys starting with "schedule:" are the daemon''s own'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER messages_a_tenant BEFORE INSERT ON outpost.messages
    FOR EACH ROW EXECUTE FUNCTION outpost.messages_tenant();

-- A digest (digest_key and options.digest.window) is due with the first
-- queued message of its group, which is only ever of the row's own tenant;
-- computed here, with the owner's rights, for the helpers and for direct
-- INSERTs alike (a trigger function cannot be called by anyone else).
CREATE FUNCTION outpost.messages_digest() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    span interval := outpost.digest_window_or_null(NEW.options);
    due timestamptz;
    latest timestamptz := NEW.expires_at - interval '1 second';
BEGIN
    IF NEW.digest_key IS NULL OR span IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT min(m.run_at) INTO due FROM outpost.messages m
    WHERE m.status = 'queued' AND m.digest_key = NEW.digest_key AND m.kind = NEW.kind
      AND m.to_user IS NOT DISTINCT FROM NEW.to_user
      AND m.to_address IS NOT DISTINCT FROM NEW.to_address
      AND m.tenant IS NOT DISTINCT FROM NEW.tenant;
    due := coalesce(due, NEW.run_at + span);
    IF latest IS NOT NULL AND latest < due THEN
        due := greatest(latest, now());
        UPDATE outpost.messages m SET run_at = due, updated_at = now()
        WHERE m.status = 'queued' AND m.digest_key = NEW.digest_key AND m.kind = NEW.kind
          AND m.to_user IS NOT DISTINCT FROM NEW.to_user
          AND m.to_address IS NOT DISTINCT FROM NEW.to_address
          AND m.tenant IS NOT DISTINCT FROM NEW.tenant
          AND m.run_at > due;
    END IF;
    NEW.run_at := due;
    RETURN NEW;
END;
$$;
CREATE TRIGGER messages_b_digest BEFORE INSERT ON outpost.messages
    FOR EACH ROW WHEN (NEW.digest_key IS NOT NULL) EXECUTE FUNCTION outpost.messages_digest();
DROP FUNCTION outpost.digest_due(text, text, text, text, jsonb, timestamptz, timestamptz);

-- Idempotency keys are unique per tenant ("ON CONFLICT DO NOTHING" finds
-- this index; so does "ON CONFLICT (tenant, idempotency_key) WHERE
-- idempotency_key IS NOT NULL").
ALTER TABLE outpost.messages DROP CONSTRAINT messages_idempotency_key_unique;
CREATE UNIQUE INDEX messages_idempotency_key_unique ON outpost.messages (tenant, idempotency_key)
    NULLS NOT DISTINCT WHERE idempotency_key IS NOT NULL;

-- outpost.enqueue: the one INSERT, its key found again within the tenant.
CREATE OR REPLACE FUNCTION outpost.enqueue(
    kind            text,
    to_user         text DEFAULT NULL,
    to_address      text DEFAULT NULL,
    template        text DEFAULT NULL,
    context         jsonb DEFAULT '{}'::jsonb,
    locale          text DEFAULT NULL,
    subject         text DEFAULT NULL,
    body            text DEFAULT NULL,
    html            text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    provider        text DEFAULT NULL,
    tenant          text DEFAULT NULL,
    priority        int DEFAULT 0,
    run_at          timestamptz DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
    the_tenant text;
BEGIN
    INSERT INTO outpost.messages AS m (
        kind, to_user, to_address, template, context, locale, subject, body, html,
        options, provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts,
        category, digest_key)
    VALUES (
        enqueue.kind, enqueue.to_user, enqueue.to_address, enqueue.template,
        coalesce(enqueue.context, '{}'::jsonb), enqueue.locale, enqueue.subject,
        enqueue.body, enqueue.html, coalesce(enqueue.options, '{}'::jsonb),
        enqueue.provider, enqueue.tenant, coalesce(enqueue.priority, 0)::smallint,
        coalesce(enqueue.run_at, now()),
        enqueue.expires_at, enqueue.idempotency_key,
        enqueue.max_attempts, enqueue.category, enqueue.digest_key)
    ON CONFLICT DO NOTHING
    RETURNING m.id INTO new_id;

    IF new_id IS NULL THEN
        -- The tenant the trigger gave the row that was not inserted.
        the_tenant := coalesce(outpost.caller_tenant(),
                               (SELECT r.tenant FROM outpost.recipients r
                                WHERE r.user_id = enqueue.to_user),
                               enqueue.tenant);
        SELECT m.id INTO new_id FROM outpost.messages m
        WHERE m.idempotency_key = enqueue.idempotency_key
          AND m.tenant IS NOT DISTINCT FROM the_tenant;
    END IF;
    RETURN new_id;
END;
$$;

-- Recipients a tenant's role registers are its own.
CREATE FUNCTION outpost.recipients_tenant() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.tenant := coalesce(NEW.tenant, outpost.caller_tenant());
    RETURN NEW;
END;
$$;
CREATE TRIGGER recipients_a_tenant BEFORE INSERT ON outpost.recipients
    FOR EACH ROW EXECUTE FUNCTION outpost.recipients_tenant();

-- Inbound e-mail is routed to a tenant by recipient address or domain; mail
-- no route claims stays with the roles that have no tenant.
CREATE TABLE outpost.inbound_routes (
    pattern    text PRIMARY KEY
        CHECK (pattern = lower(btrim(pattern)) AND pattern <> '' AND octet_length(pattern) <= 1024),
    tenant     text NOT NULL CHECK (btrim(tenant) <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE outpost.inbound_routes IS
    'pattern: a full address (reports@a.example) or a domain (a.example); the address wins';
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.inbound_routes TO outpost_daemon;
ALTER TABLE outpost.inbound_emails ADD COLUMN tenant text;
CREATE INDEX inbound_emails_tenant_idx ON outpost.inbound_emails (tenant, id);

-- The tenant of the first recipient a route claims: addresses before domains.
CREATE FUNCTION outpost.inbound_tenant(to_addresses text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.tenant
    FROM unnest(string_to_array(to_addresses, ',')) WITH ORDINALITY AS a(address, n)
    CROSS JOIN LATERAL (SELECT outpost.normalize_address(a.address) AS address) x
    JOIN outpost.inbound_routes r
      ON r.pattern = x.address OR r.pattern = split_part(x.address, '@', 2)
    ORDER BY (r.pattern = x.address) DESC, a.n
    LIMIT 1;
$$;
REVOKE EXECUTE ON FUNCTION outpost.inbound_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.inbound_tenant(text) TO outpost_daemon;
CREATE FUNCTION outpost.inbound_emails_route() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.tenant := coalesce(NEW.tenant, outpost.inbound_tenant(NEW.to_addresses));
    RETURN NEW;
END;
$$;
CREATE TRIGGER inbound_emails_a_route BEFORE INSERT ON outpost.inbound_emails
    FOR EACH ROW EXECUTE FUNCTION outpost.inbound_emails_route();

-- Preferences and consumer cursors carry their tenant too.
ALTER TABLE outpost.preferences ADD COLUMN tenant text;
UPDATE outpost.preferences p SET tenant = r.tenant
FROM outpost.recipients r WHERE r.user_id = p.user_id;
ALTER TABLE outpost.consumer_cursors ADD COLUMN tenant text DEFAULT outpost.caller_tenant();
ALTER TABLE outpost.consumer_cursors DROP CONSTRAINT consumer_cursors_pkey;
CREATE UNIQUE INDEX consumer_cursors_key ON outpost.consumer_cursors
    (coalesce(tenant, ''), consumer, stream);

-- The policies. "Mine" below: the row's tenant is the caller's, or the
-- caller has none. Each (SELECT …) is computed once per statement.
ALTER TABLE outpost.messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.messages TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()))
    WITH CHECK ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));

ALTER TABLE outpost.recipients ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.recipients TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()))
    WITH CHECK ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));

ALTER TABLE outpost.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.events FOR SELECT TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL
           OR message_id IN (SELECT m.id FROM outpost.messages m));

ALTER TABLE outpost.inbound_emails ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.inbound_emails FOR SELECT TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));

ALTER TABLE outpost.inbound_attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.inbound_attachments FOR SELECT TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL
           OR inbound_email_id IN (SELECT e.id FROM outpost.inbound_emails e));

ALTER TABLE outpost.chat_channels ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.chat_channels TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()))
    WITH CHECK ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));

ALTER TABLE outpost.chat_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.chat_members TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL
           OR channel_id IN (SELECT c.id FROM outpost.chat_channels c))
    WITH CHECK ((SELECT outpost.caller_tenant()) IS NULL
           OR channel_id IN (SELECT c.id FROM outpost.chat_channels c));

ALTER TABLE outpost.chat_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.chat_messages TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL
           OR channel_id IN (SELECT c.id FROM outpost.chat_channels c))
    WITH CHECK ((SELECT outpost.caller_tenant()) IS NULL
           OR channel_id IN (SELECT c.id FROM outpost.chat_channels c));

ALTER TABLE outpost.messaging_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.messaging_configs FOR SELECT TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));

ALTER TABLE outpost.preferences ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.preferences FOR SELECT TO outpost_app
    USING ((SELECT outpost.caller_tenant()) IS NULL OR tenant = (SELECT outpost.caller_tenant()));

ALTER TABLE outpost.consumer_cursors ENABLE ROW LEVEL SECURITY;
CREATE POLICY app_rows ON outpost.consumer_cursors TO outpost_app
    USING (tenant IS NOT DISTINCT FROM (SELECT outpost.caller_tenant()))
    WITH CHECK (tenant IS NOT DISTINCT FROM (SELECT outpost.caller_tenant()));

-- The daemon, when it is a member of outpost_daemon rather than the owner,
-- sees and writes every row.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['messages', 'recipients', 'events', 'inbound_emails',
                             'inbound_attachments', 'chat_channels', 'chat_members',
                             'chat_messages', 'messaging_configs', 'preferences',
                             'consumer_cursors'] LOOP
        EXECUTE format('CREATE POLICY daemon_rows ON outpost.%I TO outpost_daemon USING (true) WITH CHECK (true)', t);
    END LOOP;
END;
$$;

-- message_status runs with its owner's rights (the application may not
-- read messages itself), so it filters by the caller's tenant itself;
-- security_barrier keeps a caller's own functions from seeing rows first.
CREATE OR REPLACE VIEW outpost.message_status WITH (security_barrier = true) AS
SELECT m.id, m.kind, m.status, k.to_user, k.to_address, k.tenant, m.template, m.subject,
       m.priority, m.attempts, m.max_attempts, m.provider_message_id, m.last_error, m.segments,
       k.created_at, m.run_at, m.expires_at, m.sent_at, m.finished_at, m.updated_at,
       a.attempt AS last_attempt, a.provider AS last_provider, a.outcome AS last_outcome,
       a.worker AS last_worker, a.started_at AS last_attempt_started_at,
       a.finished_at AS last_attempt_finished_at, a.error AS last_attempt_error,
       a.note AS last_attempt_note, e.event AS last_event, e.received_at AS last_event_at,
       coalesce(d.reached, 0) >= 2 AS possible_duplicate, m.deferrals
FROM outpost.messages m
JOIN outpost.message_keys k ON k.message_id = m.id
LEFT JOIN LATERAL (
    SELECT a.* FROM outpost.attempts a WHERE a.message_id = m.id
    ORDER BY a.attempt DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (
    SELECT e.* FROM outpost.events e WHERE e.message_id = m.id
    ORDER BY e.received_at DESC, e.id DESC LIMIT 1) e ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS reached FROM outpost.attempts x
    WHERE x.message_id = m.id AND x.outcome IN ('sent', 'unknown')) d ON true
WHERE (SELECT outpost.caller_tenant()) IS NULL OR k.tenant = (SELECT outpost.caller_tenant());

-- The helpers that run with the owner's rights refuse another tenant's
-- ids, users and channels. Each takes the calling role as a last argument
-- that defaults to current_user where the call is written.
DROP FUNCTION outpost.cancel(bigint);
CREATE FUNCTION outpost.cancel(message_id bigint, caller name DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_id bigint;
BEGIN
    PERFORM outpost.require_tenant(
        (SELECT m.tenant FROM outpost.messages m WHERE m.id = cancel.message_id),
        format('message %s', message_id), caller);
    UPDATE outpost.messages m
    SET status = 'cancelled', last_error = 'cancelled', finished_at = now(), updated_at = now()
    WHERE m.id = cancel.message_id AND m.status = 'queued'
    RETURNING m.id INTO found_id;
    RETURN found_id;
END;
$$;

DROP FUNCTION outpost.retry(bigint, int);
CREATE FUNCTION outpost.retry(message_id bigint, extra_attempts int DEFAULT 3,
                              caller name DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_id bigint;
BEGIN
    IF extra_attempts IS NULL OR extra_attempts < 1 THEN
        RAISE EXCEPTION 'outpost.retry: extra_attempts must be at least 1, got %', extra_attempts;
    END IF;
    PERFORM outpost.require_tenant(
        (SELECT m.tenant FROM outpost.messages m WHERE m.id = retry.message_id),
        format('message %s', message_id), caller);
    UPDATE outpost.messages m
    SET status = 'queued', run_at = greatest(m.run_at, now()),
        max_attempts = m.attempts + extra_attempts,
        expires_at = CASE WHEN m.expires_at <= now() THEN NULL ELSE m.expires_at END,
        leased_until = NULL, worker = NULL, finished_at = NULL, updated_at = now()
    WHERE m.id = retry.message_id
      AND m.status IN ('failed', 'expired', 'cancelled', 'bounced', 'suppressed')
    RETURNING m.id INTO found_id;
    IF found_id IS NOT NULL THEN
        PERFORM pg_notify('outpost_messages', '');
    END IF;
    RETURN found_id;
END;
$$;

-- set_preference: the audit actor is the calling role, never an argument
-- (`source` stays a label on the preference: 'app', 'unsubscribe', …).
DROP FUNCTION outpost.set_preference(text, text, text, boolean, text);
CREATE FUNCTION outpost.set_preference(
    user_id  text,
    category text,
    kind     text,
    enabled  boolean,
    source   text DEFAULT 'app',
    caller   name DEFAULT current_user
) RETURNS outpost.preferences
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    before_row outpost.preferences;
    after_row outpost.preferences;
    the_tenant text;
BEGIN
    IF set_preference.enabled IS NULL THEN
        RAISE EXCEPTION 'outpost.set_preference: enabled must be true or false';
    END IF;
    the_tenant := coalesce(outpost.require_user(set_preference.user_id, set_preference.caller),
                           outpost.acting_tenant(set_preference.caller));
    SELECT * INTO before_row FROM outpost.preferences p
    WHERE p.user_id = set_preference.user_id AND p.category = set_preference.category
      AND p.kind IS NOT DISTINCT FROM set_preference.kind;
    PERFORM outpost.require_tenant(coalesce(before_row.tenant, the_tenant),
        format('user %s', set_preference.user_id), set_preference.caller);
    INSERT INTO outpost.preferences AS p (user_id, category, kind, enabled, source, tenant)
    VALUES (set_preference.user_id, set_preference.category, set_preference.kind,
            set_preference.enabled, coalesce(set_preference.source, 'app'), the_tenant)
    ON CONFLICT (user_id, category, (coalesce(kind, '')))
    DO UPDATE SET enabled = EXCLUDED.enabled, source = EXCLUDED.source, updated_at = now()
    RETURNING * INTO after_row;
    INSERT INTO outpost.console_audit (actor, action, object, before, after)
    VALUES (format('role %s', set_preference.caller), 'preference.set',
            format('preference %s/%s/%s', after_row.user_id, after_row.category,
                   coalesce(after_row.kind, '*')),
            CASE WHEN before_row.user_id IS NOT NULL THEN to_jsonb(before_row) END,
            to_jsonb(after_row));
    RETURN after_row;
END;
$$;

DROP FUNCTION outpost.preferences_for(text);
CREATE FUNCTION outpost.preferences_for(user_id text, caller name DEFAULT current_user)
RETURNS SETOF outpost.preferences
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM outpost.require_user(preferences_for.user_id, preferences_for.caller);
    RETURN QUERY
    SELECT * FROM outpost.preferences p
    WHERE p.user_id = preferences_for.user_id
    ORDER BY p.category, p.kind NULLS FIRST;
END;
$$;

DROP FUNCTION outpost.chat_mark_read(bigint, text);
CREATE FUNCTION outpost.chat_mark_read(channel_id bigint, user_id text,
                                       caller name DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    newest bigint;
    previous bigint;
BEGIN
    PERFORM outpost.require_tenant(
        (SELECT c.tenant FROM outpost.chat_channels c WHERE c.id = chat_mark_read.channel_id),
        format('channel %s', channel_id), caller);
    SELECT coalesce(max(m.id), 0) INTO newest FROM outpost.chat_messages m
    WHERE m.channel_id = chat_mark_read.channel_id;
    SELECT last_read_message_id INTO previous FROM outpost.chat_members mem
    WHERE mem.channel_id = chat_mark_read.channel_id AND mem.user_id = chat_mark_read.user_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % is not a member of channel %', user_id, channel_id;
    END IF;
    UPDATE outpost.chat_members mem SET last_read_message_id = greatest(newest, previous)
    WHERE mem.channel_id = chat_mark_read.channel_id AND mem.user_id = chat_mark_read.user_id;
    RETURN (SELECT count(*) FROM outpost.chat_messages m
            WHERE m.channel_id = chat_mark_read.channel_id AND m.id > previous AND m.id <= newest
              AND m.sender IS DISTINCT FROM chat_mark_read.user_id);
END;
$$;

-- send_system_message and send_system_message_template: the user must be
-- the caller's tenant's (the checks against their `tenant` argument stay).
DROP FUNCTION outpost.send_system_message(text, text, text, text, bigint, boolean, text, text);
CREATE FUNCTION outpost.send_system_message(
    to_user           text,
    message           text,
    format            text DEFAULT 'plaintext',
    tenant            text DEFAULT NULL,
    outbox_message_id bigint DEFAULT NULL,
    notify            boolean DEFAULT true,
    category          text DEFAULT NULL,
    digest_key        text DEFAULT NULL,
    caller            name DEFAULT current_user
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text := outpost.require_user(send_system_message.to_user, send_system_message.caller);
    the_format text := coalesce(send_system_message.format, 'plaintext');
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
    VALUES (channel, NULL, send_system_message.message, the_format, send_system_message.outbox_message_id)
    RETURNING id INTO new_id;
    IF notify AND config.push_on_message THEN
        PERFORM outpost.enqueue('push', send_system_message.to_user, NULL, NULL, '{}'::jsonb, NULL,
            NULL, outpost.chat_alert(send_system_message.message, the_format), NULL,
            jsonb_build_object('chat_channel_id', channel, 'chat_message_id', new_id), NULL,
            the_tenant, 0, NULL, NULL, NULL, NULL, send_system_message.category,
            send_system_message.digest_key);
    END IF;
    RETURN new_id;
END;
$$;

DROP FUNCTION outpost.send_system_message_template(text, text, jsonb, text, text, timestamptz,
    text, int, text, timestamptz, int, text, text, text, jsonb);
CREATE FUNCTION outpost.send_system_message_template(
    to_user         text,
    template        text,
    context         jsonb DEFAULT '{}'::jsonb,
    format          text DEFAULT 'plaintext',
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL,
    priority        int DEFAULT 0,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    locale          text DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    caller          name DEFAULT current_user
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text := outpost.require_user(send_system_message_template.to_user,
                                            send_system_message_template.caller);
BEGIN
    IF format NOT IN ('plaintext', 'html') THEN
        RAISE EXCEPTION 'format must be plaintext or html, not %', format;
    END IF;
    IF send_system_message_template.tenant IS NOT NULL
       AND send_system_message_template.tenant IS DISTINCT FROM the_tenant THEN
        RAISE EXCEPTION 'tenant % is not the tenant of user %', send_system_message_template.tenant,
            send_system_message_template.to_user
            USING ERRCODE = 'P0001';
    END IF;
    IF send_system_message_template.idempotency_key LIKE 'schedule:%'
       AND NOT outpost.is_daemon(send_system_message_template.caller) THEN
        RAISE EXCEPTION 'outpost: idempotency keys starting with "schedule:" are the daemon''s own'
            USING ERRCODE = '42501';
    END IF;
    RETURN outpost.enqueue('chat', to_user, NULL, template, context, locale, NULL, NULL, NULL,
        coalesce(send_system_message_template.options, '{}'::jsonb)
            || jsonb_build_object('format', format),
        provider, the_tenant, priority, run_at, expires_at,
        idempotency_key, max_attempts, category, digest_key);
END;
$$;
