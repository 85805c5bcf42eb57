-- SQL helpers named after the original messaging API. Each is a thin INSERT
-- (or UPDATE) that returns the message id, callable from any language.

-- The one INSERT behind every helper. A repeated idempotency_key inserts
-- nothing and returns the id of the first message with that key.
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO outpost.messages AS m (
        kind, to_user, to_address, template, context, locale, subject, body, html,
        options, provider, tenant, priority, run_at, expires_at, idempotency_key, max_attempts)
    VALUES (
        enqueue.kind, enqueue.to_user, enqueue.to_address, enqueue.template,
        coalesce(enqueue.context, '{}'::jsonb), enqueue.locale, enqueue.subject,
        enqueue.body, enqueue.html, coalesce(enqueue.options, '{}'::jsonb),
        enqueue.provider, enqueue.tenant, coalesce(enqueue.priority, 0)::smallint,
        coalesce(enqueue.run_at, now()), enqueue.expires_at, enqueue.idempotency_key,
        enqueue.max_attempts)
    ON CONFLICT ON CONSTRAINT messages_idempotency_key_unique DO NOTHING
    RETURNING m.id INTO new_id;

    IF new_id IS NULL THEN
        SELECT m.id INTO new_id FROM outpost.messages m
        WHERE m.idempotency_key = enqueue.idempotency_key;
    END IF;
    RETURN new_id;
END;
$$;

-- emails.utils.send_mail_template: a template rendered to subject, text and HTML.
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('email', to_user => to_user, to_address => to_address,
        template => template, context => context, locale => locale, options => options,
        provider => provider, tenant => tenant, priority => priority, run_at => run_at,
        expires_at => expires_at, idempotency_key => idempotency_key,
        max_attempts => max_attempts);
$$;

-- emails.utils.send_simple_mail: a subject, a text and a list of links
-- ([{"label": "…", "url": "…"}]), rendered by the built-in simple template.
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('email', to_user => to_user, to_address => to_address,
        subject => subject, body => body, locale => locale,
        options => coalesce(options, '{}'::jsonb)
                   || jsonb_build_object('links', coalesce(links, '[]'::jsonb)),
        provider => provider, tenant => tenant, priority => priority, run_at => run_at,
        expires_at => expires_at, idempotency_key => idempotency_key,
        max_attempts => max_attempts);
$$;

-- TwilioClient.send_sms / send_sms_to_number. sender: the Twilio number to send from.
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user => to_user, to_address => to_address,
        template => template, context => context, body => body, locale => locale,
        options => coalesce(options, '{}'::jsonb)
                   || jsonb_strip_nulls(jsonb_build_object('from', sender)),
        provider => provider, tenant => tenant, priority => priority, run_at => run_at,
        expires_at => expires_at, idempotency_key => idempotency_key,
        max_attempts => max_attempts);
$$;

-- TwilioClient.make_call: the text is read out in the recipient's language.
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('voice', to_user => to_user, to_address => to_address,
        template => template, context => context, body => body, locale => locale,
        options => coalesce(options, '{}'::jsonb)
                   || jsonb_strip_nulls(jsonb_build_object('from', sender)),
        provider => provider, tenant => tenant, priority => priority, run_at => run_at,
        expires_at => expires_at, idempotency_key => idempotency_key,
        max_attempts => max_attempts);
$$;

-- send_user_push_message: a push notification to an application user.
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
    max_attempts    int DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('push', to_user => to_user, body => message, options => options,
        provider => provider, tenant => tenant, priority => priority, run_at => run_at,
        expires_at => expires_at, idempotency_key => idempotency_key,
        max_attempts => max_attempts);
$$;

-- Cancel a message that has not been sent yet. Returns its id, or NULL when
-- it is no longer queued (already sending, sent or finished).
CREATE FUNCTION outpost.cancel(message_id bigint) RETURNS bigint
LANGUAGE sql AS $$
    UPDATE outpost.messages
    SET status = 'cancelled', last_error = 'cancelled', finished_at = now(), updated_at = now()
    WHERE id = message_id AND status = 'queued'
    RETURNING id;
$$;

-- Queue a finished message again (failed, expired, cancelled, bounced or
-- suppressed) with extra_attempts more attempts, now. Returns its id, or NULL
-- when it cannot be retried (queued, sending, sent or delivered).
CREATE FUNCTION outpost.retry(message_id bigint, extra_attempts int DEFAULT 3) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    IF extra_attempts IS NULL OR extra_attempts < 1 THEN
        RAISE EXCEPTION 'outpost.retry: extra_attempts must be at least 1, got %', extra_attempts;
    END IF;
    UPDATE outpost.messages
    SET status = 'queued', run_at = now(), max_attempts = attempts + extra_attempts,
        expires_at = CASE WHEN expires_at <= now() THEN NULL ELSE expires_at END,
        leased_until = NULL, worker = NULL, finished_at = NULL, updated_at = now()
    WHERE id = message_id
      AND status IN ('failed', 'expired', 'cancelled', 'bounced', 'suppressed')
    RETURNING id INTO found_id;
    IF found_id IS NOT NULL THEN
        PERFORM pg_notify('outpost_messages', '');
    END IF;
    RETURN found_id;
END;
$$;
