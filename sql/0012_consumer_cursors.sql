-- Consumers outside the daemon (the Django app's `outpost_inbound` command):
-- a durable cursor per consumer and stream, so every stored inbound e-mail
-- and provider event reaches them in id order, across restarts; and a NOTIFY
-- when provider events are stored, as `outpost_inbound` is for e-mails. The
-- phone and chat helpers named after the original tasks take every common
-- option, as the other helpers do.
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

CREATE TABLE outpost.consumer_cursors (
    consumer    text NOT NULL,
    -- inbound: outpost.inbound_emails ids; events: outpost.events ids.
    stream      text NOT NULL CHECK (stream IN ('inbound', 'events')),
    last_id     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);

-- One NOTIFY per INSERT statement; delivered at commit, so a listener reads
-- the event together with the status it gave its message.
CREATE FUNCTION outpost.notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outpost_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify AFTER INSERT ON outpost.events
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.notify_events();

-- Applications may read what was received and what providers reported, and
-- keep their cursors (attempts stay the daemon's: outpost.message_status
-- shows the latest one).
GRANT SELECT ON outpost.inbound_emails, outpost.inbound_attachments, outpost.events TO outpost_app;
GRANT SELECT, INSERT, UPDATE ON outpost.consumer_cursors TO outpost_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.consumer_cursors TO outpost_daemon;

-- The helpers named after the original Celery tasks and messaging functions
-- take every common option, as the others do (README: "Every helper takes
-- the same optional named arguments"). Existing positional arguments keep
-- their places; the new ones are appended.
DROP FUNCTION outpost.send_phone_sms(text, text, text, jsonb, timestamptz, text);
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
    locale          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user => to_user, body => content, options => options,
        locale => locale, idempotency_key => idempotency_key, run_at => run_at, tenant => tenant,
        priority => priority, provider => provider, expires_at => expires_at,
        max_attempts => max_attempts);
$$;

DROP FUNCTION outpost.send_phone_sms_predefined(text, text, text, text, timestamptz, text);
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
    locale          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user => to_user, template => template,
        context => jsonb_strip_nulls(jsonb_build_object('note', note)), options => options,
        locale => locale, idempotency_key => idempotency_key, run_at => run_at, tenant => tenant,
        priority => priority, provider => provider, expires_at => expires_at,
        max_attempts => max_attempts);
$$;

DROP FUNCTION outpost.send_sms_to_number(text, text, text, text, text, timestamptz, text);
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_address => phone_number, locale => language, body => content,
        options => coalesce(options, '{}'::jsonb)
                   || jsonb_strip_nulls(jsonb_build_object('from', twilio_id)),
        idempotency_key => idempotency_key, run_at => run_at, tenant => tenant,
        priority => priority, provider => provider, expires_at => expires_at,
        max_attempts => max_attempts);
$$;

DROP FUNCTION outpost.make_phone_call(text, text, jsonb, text, timestamptz, text);
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
    locale          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('voice', to_user => to_user, template => template, context => context,
        options => options, locale => locale,
        idempotency_key => idempotency_key, run_at => run_at, tenant => tenant,
        priority => priority, provider => provider, expires_at => expires_at,
        max_attempts => max_attempts);
$$;

DROP FUNCTION outpost.send_system_message_template(text, text, jsonb, text, text, timestamptz);
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
    locale          text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_tenant text :=
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = send_system_message_template.to_user);
BEGIN
    IF format NOT IN ('plaintext', 'html') THEN
        RAISE EXCEPTION 'format must be plaintext or html, not %', format;
    END IF;
    -- As send_system_message (0011): the recipient's tenant decides; another is refused.
    IF send_system_message_template.tenant IS NOT NULL
       AND send_system_message_template.tenant IS DISTINCT FROM the_tenant THEN
        RAISE EXCEPTION 'tenant % is not the tenant of user %', send_system_message_template.tenant,
            send_system_message_template.to_user
            USING ERRCODE = 'P0001';
    END IF;
    RETURN outpost.enqueue('chat', to_user => to_user, template => template, context => context,
        options => jsonb_build_object('format', format), locale => locale,
        tenant => the_tenant,
        idempotency_key => idempotency_key, run_at => run_at, priority => priority,
        provider => provider, expires_at => expires_at, max_attempts => max_attempts);
END;
$$;
