-- SMS and voice: the segment count of each SMS, a note on attempts (e.g. a
-- voice language fallback), and helpers named after the original Celery tasks.

ALTER TABLE outpost.messages ADD COLUMN segments int CHECK (segments > 0);
ALTER TABLE outpost.attempts ADD COLUMN note text;

-- twilio_notification.send_phone_sms(auditor_id, content)
CREATE FUNCTION outpost.send_phone_sms(
    to_user         text,
    content         text,
    idempotency_key text DEFAULT NULL,
    options         jsonb DEFAULT '{}'::jsonb,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user => to_user, body => content, options => options,
        idempotency_key => idempotency_key, run_at => run_at, tenant => tenant);
$$;

-- twilio_notification.send_phone_sms_predefined(auditor_id, note): the
-- predefined text (template NAME.sms.txt) with an optional note.
CREATE FUNCTION outpost.send_phone_sms_predefined(
    to_user         text,
    note            text DEFAULT NULL,
    template        text DEFAULT 'predefined',
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_user => to_user, template => template,
        context => jsonb_strip_nulls(jsonb_build_object('note', note)),
        idempotency_key => idempotency_key, run_at => run_at, tenant => tenant);
$$;

-- twilio_notification.send_sms_to_number(phone_number, language, content, twilio_id)
CREATE FUNCTION outpost.send_sms_to_number(
    phone_number    text,
    language        text,
    content         text,
    twilio_id       text DEFAULT NULL,
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('sms', to_address => phone_number, locale => language, body => content,
        options => jsonb_strip_nulls(jsonb_build_object('from', twilio_id)),
        idempotency_key => idempotency_key, run_at => run_at, tenant => tenant);
$$;

-- twilio_notification.make_phone_call(auditor_id): the predefined message
-- (template NAME.voice.txt) read out in the user's language.
CREATE FUNCTION outpost.make_phone_call(
    to_user         text,
    template        text DEFAULT 'predefined',
    context         jsonb DEFAULT '{}'::jsonb,
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL,
    tenant          text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql AS $$
    SELECT outpost.enqueue('voice', to_user => to_user, template => template, context => context,
        idempotency_key => idempotency_key, run_at => run_at, tenant => tenant);
$$;
