-- Recipients in control, part 1: a category on every message (NULL: a
-- transactional message, never subject to preferences), a digest key, the
-- recipients' preferences by category and kind, and every helper rewritten as
-- a one-line call of outpost.enqueue, the one INSERT, with the same names,
-- parameters (in the same order, with the same defaults), return types and
-- rights as before, and two new trailing parameters: category, digest_key.
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

ALTER TABLE outpost.messages
    ADD COLUMN category text
        CONSTRAINT messages_category_check CHECK (category IS NULL OR btrim(category) <> ''),
    -- Messages of one recipient and kind with the same key, due within
    -- options.digest_window of each other, are sent as one (below).
    ADD COLUMN digest_key text
        CONSTRAINT messages_digest_key_check CHECK (digest_key IS NULL OR btrim(digest_key) <> '');

REVOKE INSERT ON outpost.messages FROM outpost_app;
GRANT INSERT (kind, to_user, to_address, template, context, locale, subject, body, html,
              options, provider, tenant, priority, run_at, expires_at, idempotency_key,
              max_attempts, category, digest_key)
    ON outpost.messages TO outpost_app;

-- A user's choice for a category: for one kind, or for every kind (kind
-- NULL). The row for the message's kind wins over the row for every kind;
-- without a row the category is on.
CREATE TABLE outpost.preferences (
    user_id     text NOT NULL CHECK (btrim(user_id) <> ''),
    category    text NOT NULL CHECK (btrim(category) <> ''),
    kind        text CHECK (kind IN ('email', 'sms', 'voice', 'push', 'chat')),
    enabled     boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- Who changed it last: app, unsubscribe (a one-click link), console, …
    source      text NOT NULL DEFAULT 'app'
);
CREATE UNIQUE INDEX preferences_key ON outpost.preferences (user_id, category, (coalesce(kind, '')));

-- The preference that stops a message of `category` and `kind` to `user_id`,
-- as a sentence for last_error; NULL when it may be sent.
CREATE FUNCTION outpost.preference_block(user_id text, category text, kind text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN NOT p.enabled THEN format(
               'preference: user %s turned category %s off for %s (outpost.preferences, source %s); not sent',
               p.user_id, p.category, coalesce(p.kind, 'every kind'), p.source) END
    FROM outpost.preferences p
    WHERE p.user_id = preference_block.user_id AND p.category = preference_block.category
      AND (p.kind = preference_block.kind OR p.kind IS NULL)
    ORDER BY p.kind NULLS LAST
    LIMIT 1;
$$;

-- Turns a category on or off for a user, for one kind or every kind (kind
-- NULL), and records the change in the audit trail (outpost.console_audit,
-- actor = source). Returns the stored row.
CREATE FUNCTION outpost.set_preference(
    user_id  text,
    category text,
    kind     text,
    enabled  boolean,
    source   text DEFAULT 'app'
) RETURNS outpost.preferences
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    before_row outpost.preferences;
    after_row outpost.preferences;
BEGIN
    IF set_preference.enabled IS NULL THEN
        RAISE EXCEPTION 'outpost.set_preference: enabled must be true or false';
    END IF;
    SELECT * INTO before_row FROM outpost.preferences p
    WHERE p.user_id = set_preference.user_id AND p.category = set_preference.category
      AND p.kind IS NOT DISTINCT FROM set_preference.kind;
    INSERT INTO outpost.preferences AS p (user_id, category, kind, enabled, source)
    VALUES (set_preference.user_id, set_preference.category, set_preference.kind,
            set_preference.enabled, coalesce(set_preference.source, 'app'))
    ON CONFLICT (user_id, category, (coalesce(kind, '')))
    DO UPDATE SET enabled = EXCLUDED.enabled, source = EXCLUDED.source, updated_at = now()
    RETURNING * INTO after_row;
    INSERT INTO outpost.console_audit (actor, action, object, before, after)
    VALUES (after_row.source, 'preference.set',
            format('preference %s/%s/%s', after_row.user_id, after_row.category,
                   coalesce(after_row.kind, '*')),
            CASE WHEN before_row.user_id IS NOT NULL THEN to_jsonb(before_row) END,
            to_jsonb(after_row));
    RETURN after_row;
END;
$$;

-- A user's preferences, by category then kind (every kind first).
CREATE FUNCTION outpost.preferences_for(user_id text) RETURNS SETOF outpost.preferences
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM outpost.preferences p WHERE p.user_id = preferences_for.user_id
    ORDER BY p.category, p.kind NULLS FIRST;
$$;

GRANT SELECT ON outpost.preferences TO outpost_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.preferences TO outpost_daemon;

-- options with the sender ("from") set when one is given.
CREATE FUNCTION outpost.with_sender(options jsonb, sender text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(options, '{}'::jsonb) || jsonb_strip_nulls(jsonb_build_object('from', sender));
$$;

-- Digests: a message with a digest_key and options.digest_window waits until
-- the window that the first queued message of its group (same recipient,
-- kind and key) opened has passed, then the whole group is sent as one; each
-- member points at the message that carried it (digest_of) and follows its
-- fate. The claim takes a group whole, so exactly one daemon sends it.
ALTER TABLE outpost.messages
    ADD COLUMN digest_of bigint REFERENCES outpost.messages (id) ON DELETE SET NULL;
CREATE INDEX messages_digest_group_idx ON outpost.messages (digest_key, kind, id)
    WHERE status = 'queued' AND digest_key IS NOT NULL;
CREATE INDEX messages_digest_of_idx ON outpost.messages (digest_of) WHERE digest_of IS NOT NULL;

-- options.digest_window as an interval (NULL when unset); a clear error when
-- it is not a duration like 1h or 30m.
CREATE FUNCTION outpost.digest_window(options jsonb) RETURNS interval
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF options IS NULL OR NOT options ? 'digest_window' THEN
        RETURN NULL;
    END IF;
    RETURN CASE WHEN (options ->> 'digest_window')::interval > interval '0'
                THEN (options ->> 'digest_window')::interval END;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
    RAISE EXCEPTION 'options.digest_window % is not a duration like 1h or 30m',
        options -> 'digest_window' USING ERRCODE = '22023';
END;
$$;

-- When a new message of a digest group is due: with the queued group
-- (its run_at, pulled earlier for everyone when this one expires sooner),
-- else at the end of the window it opens. Never at or past expires_at.
CREATE FUNCTION outpost.digest_due(kind text, to_user text, to_address text, digest_key text,
                                   options jsonb, run_at timestamptz, expires_at timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    span interval := outpost.digest_window(options);
    due timestamptz;
    latest timestamptz := digest_due.expires_at - interval '1 second';
BEGIN
    IF digest_due.digest_key IS NULL OR span IS NULL THEN
        RETURN digest_due.run_at;
    END IF;
    SELECT min(m.run_at) INTO due FROM outpost.messages m
    WHERE m.status = 'queued' AND m.digest_key = digest_due.digest_key AND m.kind = digest_due.kind
      AND m.to_user IS NOT DISTINCT FROM digest_due.to_user
      AND m.to_address IS NOT DISTINCT FROM digest_due.to_address;
    due := coalesce(due, coalesce(digest_due.run_at, now()) + span);
    IF latest IS NOT NULL AND latest < due THEN
        due := greatest(latest, now());
        UPDATE outpost.messages m SET run_at = due, updated_at = now()
        WHERE m.status = 'queued' AND m.digest_key = digest_due.digest_key AND m.kind = digest_due.kind
          AND m.to_user IS NOT DISTINCT FROM digest_due.to_user
          AND m.to_address IS NOT DISTINCT FROM digest_due.to_address
          AND m.run_at > due;
    END IF;
    RETURN due;
END;
$$;

-- A digest's members follow the message that carries them once its attempt
-- ends: sent with it (its provider message id), back to the queue with it
-- (no longer grouped), or failed/expired/suppressed with it.
CREATE FUNCTION outpost.digest_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    requeued boolean := NEW.status = 'queued';
BEGIN
    UPDATE outpost.messages d
    SET status = CASE WHEN NEW.status IN ('sent', 'delivered') THEN 'sent' ELSE NEW.status END,
        digest_of = CASE WHEN requeued THEN NULL ELSE d.digest_of END,
        worker = CASE WHEN requeued THEN NULL ELSE d.worker END,
        leased_until = NULL,
        run_at = CASE WHEN requeued THEN NEW.run_at ELSE d.run_at END,
        provider_message_id = CASE WHEN requeued THEN NULL ELSE NEW.provider_message_id END,
        last_error = CASE WHEN requeued THEN NEW.last_error
                          WHEN NEW.status IN ('sent', 'delivered') THEN format('sent in digest %s', NEW.id)
                          ELSE NEW.last_error END,
        sent_at = NEW.sent_at,
        finished_at = CASE WHEN requeued THEN NULL ELSE coalesce(NEW.finished_at, now()) END,
        updated_at = now()
    WHERE d.digest_of = NEW.id AND d.status = 'sending';
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_digest_follow AFTER UPDATE OF status ON outpost.messages
    FOR EACH ROW WHEN (OLD.status = 'sending' AND NEW.status <> 'sending' AND NEW.digest_key IS NOT NULL)
    EXECUTE FUNCTION outpost.digest_follow();

-- The one INSERT behind every helper. A repeated idempotency_key inserts
-- nothing and returns the id of the first message with that key.
DROP FUNCTION outpost.enqueue(text, text, text, text, jsonb, text, text, text, text, jsonb,
                              text, text, int, timestamptz, timestamptz, text, int);
CREATE FUNCTION outpost.enqueue(
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
        CASE WHEN enqueue.digest_key IS NULL THEN coalesce(enqueue.run_at, now())
             ELSE coalesce(outpost.digest_due(enqueue.kind, enqueue.to_user, enqueue.to_address,
                                              enqueue.digest_key, enqueue.options, enqueue.run_at,
                                              enqueue.expires_at), now()) END,
        enqueue.expires_at, enqueue.idempotency_key,
        enqueue.max_attempts, enqueue.category, enqueue.digest_key)
    ON CONFLICT ON CONSTRAINT messages_idempotency_key_unique DO NOTHING
    RETURNING m.id INTO new_id;

    IF new_id IS NULL THEN
        SELECT m.id INTO new_id FROM outpost.messages m
        WHERE m.idempotency_key = enqueue.idempotency_key;
    END IF;
    RETURN new_id;
END;
$$;

-- The named helpers: each one call of outpost.enqueue with its arguments in
-- enqueue's order (kind, to_user, to_address, template, context, locale,
-- subject, body, html, options, provider, tenant, priority, run_at,
-- expires_at, idempotency_key, max_attempts, category, digest_key).

-- emails.utils.send_mail_template: a template rendered to subject, text and HTML.
DROP FUNCTION outpost.send_mail_template(text, text, text, jsonb, text, jsonb, timestamptz, int,
                                         text, text, text, timestamptz, int);
CREATE FUNCTION outpost.send_mail_template(
    template        text,
    to_user         text DEFAULT NULL,
    to_address      text DEFAULT NULL,
    context         jsonb DEFAULT '{}'::jsonb,
    locale          text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    priority        int DEFAULT 0,
    idempotency_key text DEFAULT NULL,
    tenant          text DEFAULT NULL,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('email', to_user, to_address, template, context, locale, NULL, NULL,
        NULL, options, provider, tenant, priority, run_at, expires_at, idempotency_key,
        max_attempts, category, digest_key);
$$;

-- emails.utils.send_simple_mail: a subject, a text and a list of links
-- ([{"label": "…", "url": "…"}]), rendered by the built-in simple template.
DROP FUNCTION outpost.send_simple_mail(text, text, jsonb, text, text, text, jsonb, timestamptz,
                                       int, text, text, text, timestamptz, int);
CREATE FUNCTION outpost.send_simple_mail(
    subject         text,
    body            text,
    links           jsonb DEFAULT '[]'::jsonb,
    to_user         text DEFAULT NULL,
    to_address      text DEFAULT NULL,
    locale          text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    priority        int DEFAULT 0,
    idempotency_key text DEFAULT NULL,
    tenant          text DEFAULT NULL,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('email', to_user, to_address, NULL, '{}'::jsonb, locale, subject, body,
        NULL, coalesce(options, '{}'::jsonb) || jsonb_build_object('links', coalesce(links, '[]'::jsonb)),
        provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts,
        category, digest_key);
$$;

-- TwilioClient.send_sms / send_sms_to_number. sender: the Twilio number to send from.
DROP FUNCTION outpost.send_sms(text, text, text, text, text, text, jsonb, jsonb, timestamptz, int,
                               text, text, text, timestamptz, int);
CREATE FUNCTION outpost.send_sms(
    body            text,
    to_user         text DEFAULT NULL,
    to_address      text DEFAULT NULL,
    locale          text DEFAULT NULL,
    sender          text DEFAULT NULL,
    template        text DEFAULT NULL,
    context         jsonb DEFAULT '{}'::jsonb,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    priority        int DEFAULT 0,
    idempotency_key text DEFAULT NULL,
    tenant          text DEFAULT NULL,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user, to_address, template, context, locale, NULL, body, NULL,
        outpost.with_sender(options, sender), provider, tenant, priority, run_at, expires_at,
        idempotency_key, max_attempts, category, digest_key);
$$;

-- TwilioClient.make_call: the text is read out in the recipient's language.
-- The same arguments as send_sms.
DROP FUNCTION outpost.make_call(text, text, text, text, text, text, jsonb, jsonb, timestamptz, int,
                                text, text, text, timestamptz, int);
CREATE FUNCTION outpost.make_call(
    body            text,
    to_user         text DEFAULT NULL,
    to_address      text DEFAULT NULL,
    locale          text DEFAULT NULL,
    sender          text DEFAULT NULL,
    template        text DEFAULT NULL,
    context         jsonb DEFAULT '{}'::jsonb,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    priority        int DEFAULT 0,
    idempotency_key text DEFAULT NULL,
    tenant          text DEFAULT NULL,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('voice', to_user, to_address, template, context, locale, NULL, body, NULL,
        outpost.with_sender(options, sender), provider, tenant, priority, run_at, expires_at,
        idempotency_key, max_attempts, category, digest_key);
$$;

-- send_user_push_message: a push notification to an application user.
DROP FUNCTION outpost.send_user_push_message(text, text, jsonb, timestamptz, int, text, text, text,
                                             timestamptz, int);
CREATE FUNCTION outpost.send_user_push_message(
    to_user         text,
    message         text,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    priority        int DEFAULT 0,
    idempotency_key text DEFAULT NULL,
    tenant          text DEFAULT NULL,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('push', to_user, NULL, NULL, '{}'::jsonb, NULL, NULL, message, NULL,
        options, provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts,
        category, digest_key);
$$;

-- twilio_notification.send_phone_sms(auditor_id, content)
DROP FUNCTION outpost.send_phone_sms(text, text, text, jsonb, timestamptz, text, int, text,
                                     timestamptz, int, text);
CREATE FUNCTION outpost.send_phone_sms(
    to_user         text,
    content         text,
    idempotency_key text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL,
    priority        int DEFAULT 0,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    locale          text DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user, NULL, NULL, '{}'::jsonb, locale, NULL, content, NULL,
        options, provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts,
        category, digest_key);
$$;

-- twilio_notification.send_phone_sms_predefined(auditor_id, note): the
-- predefined text (template NAME.sms.txt) with an optional note.
DROP FUNCTION outpost.send_phone_sms_predefined(text, text, text, text, timestamptz, text, jsonb,
                                                int, text, timestamptz, int, text);
CREATE FUNCTION outpost.send_phone_sms_predefined(
    to_user         text,
    note            text DEFAULT NULL,
    template        text DEFAULT 'predefined',
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    priority        int DEFAULT 0,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    locale          text DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user, NULL, template,
        jsonb_strip_nulls(jsonb_build_object('note', note)), locale, NULL, NULL, NULL, options,
        provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts,
        category, digest_key);
$$;

-- twilio_notification.send_sms_to_number(phone_number, language, content, twilio_id)
DROP FUNCTION outpost.send_sms_to_number(text, text, text, text, text, timestamptz, text, jsonb,
                                         int, text, timestamptz, int);
CREATE FUNCTION outpost.send_sms_to_number(
    phone_number    text,
    language        text,
    content         text,
    twilio_id       text DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    priority        int DEFAULT 0,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', NULL, phone_number, NULL, '{}'::jsonb, language, NULL, content,
        NULL, outpost.with_sender(options, twilio_id), provider, tenant, priority, run_at,
        expires_at, idempotency_key, max_attempts, category, digest_key);
$$;

-- twilio_notification.make_phone_call(auditor_id): the predefined message
-- (template NAME.voice.txt) read out in the user's language.
DROP FUNCTION outpost.make_phone_call(text, text, jsonb, text, timestamptz, text, jsonb, int, text,
                                      timestamptz, int, text);
CREATE FUNCTION outpost.make_phone_call(
    to_user         text,
    template        text DEFAULT 'predefined',
    context         jsonb DEFAULT '{}'::jsonb,
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    priority        int DEFAULT 0,
    provider        text DEFAULT NULL,
    expires_at      timestamptz DEFAULT NULL,
    max_attempts    int DEFAULT NULL,
    locale          text DEFAULT NULL,
    category        text DEFAULT NULL,
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('voice', to_user, NULL, template, context, locale, NULL, NULL, NULL,
        options, provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts,
        category, digest_key);
$$;

-- messaging.send_system_message_template: queued, rendered by the daemon from
-- NAME.txt (plaintext) or NAME.html (html), then appended to the user's
-- private channel. The recipient's tenant decides (0011); another is refused.
DROP FUNCTION outpost.send_system_message_template(text, text, jsonb, text, text, timestamptz,
                                                   text, int, text, timestamptz, int, text);
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
    digest_key      text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text :=
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = send_system_message_template.to_user);
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
    RETURN outpost.enqueue('chat', to_user, NULL, template, context, locale, NULL, NULL, NULL,
        jsonb_build_object('format', format), provider, the_tenant, priority, run_at, expires_at,
        idempotency_key, max_attempts, category, digest_key);
END;
$$;

-- messaging.send_system_message: appends to the user's private channel
-- (created on first use, exactly once), queues a push (of `category`) when
-- the tenant wants one, and returns the chat message id. Raises when
-- messaging is not enabled for the user's tenant, or when `tenant` is not
-- the recipient's (0011).
DROP FUNCTION outpost.send_system_message(text, text, text, text, bigint, boolean);
CREATE FUNCTION outpost.send_system_message(
    to_user           text,
    message           text,
    format            text DEFAULT 'plaintext',
    tenant            text DEFAULT NULL,
    outbox_message_id bigint DEFAULT NULL,
    notify            boolean DEFAULT true,
    category          text DEFAULT NULL,
    digest_key        text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text :=
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = send_system_message.to_user);
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

-- Quiet hours: a daily window of local time in the recipient's timezone
-- (e.g. 22:00-07:00) during which sms, voice and push wait ([quiet_hours]).
ALTER TABLE outpost.recipients ADD COLUMN quiet_hours text
    CONSTRAINT recipients_quiet_hours_check
    CHECK (quiet_hours ~ '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$'
           AND split_part(quiet_hours, '-', 1) <> split_part(quiet_hours, '-', 2));
