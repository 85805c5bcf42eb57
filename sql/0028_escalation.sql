-- Escalation across channels (issue 29). A message may carry a follow-up:
--   options.escalate = {"after": "10m", "unless": "read" | "delivered" | "sent",
--                       "then": {"kind": …, "template" or "body", …}}
-- nestable (the follow-up may escalate again, five deep at most). The
-- follow-up is written with the first message, in the same transaction (so it
-- is durable and visible), to the same user, linked both ways (its
-- `escalated_from`, the first's `follow_up`). It is due at the first
-- message's due time plus `after`, moved to its send time plus `after` once
-- the first is sent; it ends cancelled, its last_error naming the condition,
-- as soon as the condition holds (read implies delivered implies sent), and
-- it is due at once when the first ends failed, bounced, suppressed or
-- expired. Cancelling the first cancels its follow-up.
--
-- A message to a user who lacks the address for its kind may name
-- options.fallback = {"kind": "email"} (with an optional "subject"): the
-- daemon then writes the same message as that kind (outpost.fall_back) and
-- the first ends failed, saying so; a follow-up moves to the fallback. An
-- e-mail fallback of a message with neither template nor subject takes the
-- first line of its body (78 characters at most) as its subject.

ALTER TABLE outpost.messages
    ADD COLUMN escalated_from bigint REFERENCES outpost.messages (id) ON DELETE SET NULL,
    ADD COLUMN follow_up bigint;
CREATE INDEX messages_escalated_from_idx ON outpost.messages (escalated_from)
    WHERE escalated_from IS NOT NULL;

-- The kinds a follow-up or a fallback may be.
CREATE FUNCTION outpost.escalation_kinds() RETURNS text[]
LANGUAGE sql IMMUTABLE RETURN ARRAY['email', 'sms', 'voice', 'push', 'chat'];

-- options.escalate checked: its `after` (at most 30 days), or an error that
-- names what is wrong (SQLSTATE 22023).
CREATE FUNCTION outpost.escalation_after(spec jsonb) RETURNS interval
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    after interval;
    extra text;
BEGIN
    IF jsonb_typeof(spec) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'options.escalate must be an object with after, unless and then'
            USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(k, ', ') INTO extra FROM jsonb_object_keys(spec) k
    WHERE k NOT IN ('after', 'unless', 'then');
    IF extra IS NOT NULL THEN
        RAISE EXCEPTION 'options.escalate: unknown key(s) %; the keys are after, unless and then', extra
            USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(spec -> 'after') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'options.escalate.after must be a duration like "10m" or "1 hour"'
            USING ERRCODE = '22023';
    END IF;
    BEGIN
        after := (spec ->> 'after')::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
        RAISE EXCEPTION 'options.escalate.after % is not a duration like "10m" or "1 hour"',
            spec -> 'after' USING ERRCODE = '22023';
    END;
    IF after < interval '0' OR after > interval '30 days' THEN
        RAISE EXCEPTION 'options.escalate.after % must be between 0 and 30 days', spec -> 'after'
            USING ERRCODE = '22023';
    END IF;
    IF (spec ->> 'unless') IS NULL OR (spec ->> 'unless') NOT IN ('read', 'delivered', 'sent') THEN
        RAISE EXCEPTION 'options.escalate.unless must be "read", "delivered" or "sent", not %',
            coalesce((spec -> 'unless')::text, 'missing') USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(spec -> 'then') IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'options.escalate.then must be an object: the follow-up message'
            USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(k, ', ') INTO extra FROM jsonb_object_keys(spec -> 'then') k
    WHERE k NOT IN ('kind', 'template', 'body', 'subject', 'html', 'context', 'locale',
                    'options', 'provider', 'priority', 'category', 'escalate');
    IF extra IS NOT NULL THEN
        RAISE EXCEPTION 'options.escalate.then: unknown key(s) %; a follow-up has kind, template, body, subject, html, context, locale, options, provider, priority, category and escalate', extra
            USING ERRCODE = '22023';
    END IF;
    IF NOT coalesce(spec -> 'then' ->> 'kind' = ANY (outpost.escalation_kinds()), false) THEN
        RAISE EXCEPTION 'options.escalate.then.kind must be one of %, not %',
            array_to_string(outpost.escalation_kinds(), ', '),
            coalesce((spec -> 'then' -> 'kind')::text, 'missing') USING ERRCODE = '22023';
    END IF;
    IF (spec -> 'then') ? 'options' AND jsonb_typeof(spec -> 'then' -> 'options') <> 'object' THEN
        RAISE EXCEPTION 'options.escalate.then.options must be an object' USING ERRCODE = '22023';
    END IF;
    IF (spec -> 'then') ? 'context' AND jsonb_typeof(spec -> 'then' -> 'context') <> 'object' THEN
        RAISE EXCEPTION 'options.escalate.then.context must be an object' USING ERRCODE = '22023';
    END IF;
    RETURN after;
END;
$$;

-- A message id, taken ahead of the message's insert (a follow-up's).
CREATE FUNCTION outpost.reserve_message_id() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN nextval(pg_get_serial_sequence('outpost.messages', 'id'));

-- Before a message is written: check options.escalate and options.fallback,
-- and reserve the follow-up's id. `escalated_from` and `follow_up` are
-- Outpost's own (a follow-up or a fallback, written by the owner): runs with
-- the inserting role's rights, so that is_daemon() asks about that role.
CREATE FUNCTION outpost.messages_escalate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (NEW.escalated_from IS NOT NULL OR NEW.follow_up IS NOT NULL) AND NOT outpost.is_daemon() THEN
        RAISE EXCEPTION 'outpost.messages.escalated_from and follow_up are written by Outpost; use options.escalate'
            USING ERRCODE = '42501';
    END IF;
    IF NEW.options ? 'fallback' THEN
        IF jsonb_typeof(NEW.options -> 'fallback') IS DISTINCT FROM 'object'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(NEW.options -> 'fallback') k
                      WHERE k NOT IN ('kind', 'subject'))
           OR jsonb_typeof(coalesce(NEW.options -> 'fallback' -> 'subject', '""')) <> 'string'
           OR NOT coalesce(NEW.options -> 'fallback' ->> 'kind' = ANY (outpost.escalation_kinds()), false)
           OR NEW.options -> 'fallback' ->> 'kind' = NEW.kind THEN
            RAISE EXCEPTION 'options.fallback must be {"kind": K} (and, for an e-mail, an optional "subject"), K one of % other than the message''s own kind (%)',
                array_to_string(outpost.escalation_kinds(), ', '), NEW.kind USING ERRCODE = '22023';
        END IF;
        IF nullif(btrim(NEW.to_user), '') IS NULL THEN
            RAISE EXCEPTION 'options.fallback needs to_user: the fallback goes to the same user in another way'
                USING ERRCODE = '22023';
        END IF;
    END IF;
    IF NEW.options ? 'escalate' THEN
        PERFORM outpost.escalation_after(NEW.options -> 'escalate');
        IF nullif(btrim(NEW.to_user), '') IS NULL THEN
            RAISE EXCEPTION 'options.escalate needs to_user: the follow-up goes to the same user'
                USING ERRCODE = '22023';
        END IF;
        IF jsonb_path_exists(NEW.options,
               'lax $.escalate.then.escalate.then.escalate.then.escalate.then.escalate.then.escalate') THEN
            RAISE EXCEPTION 'options.escalate is nested more than five follow-ups deep' USING ERRCODE = '22023';
        END IF;
        -- A fallback carries the follow-up of the message it stands for.
        IF NEW.follow_up IS NULL OR NOT outpost.is_daemon() THEN
            NEW.follow_up := outpost.reserve_message_id();
        END IF;
    ELSE
        NEW.follow_up := NULL;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER messages_c_escalate BEFORE INSERT ON outpost.messages
    FOR EACH ROW
    WHEN (NEW.options ? 'escalate' OR NEW.options ? 'fallback'
          OR NEW.follow_up IS NOT NULL OR NEW.escalated_from IS NOT NULL)
    EXECUTE FUNCTION outpost.messages_escalate();

-- After a message with a follow-up is written: write the follow-up (unless
-- it exists: a fallback took it over), with the owner's rights.
CREATE FUNCTION outpost.messages_follow_up() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    spec jsonb := NEW.options -> 'escalate';
    t jsonb := spec -> 'then';
BEGIN
    IF EXISTS (SELECT 1 FROM outpost.messages f WHERE f.id = NEW.follow_up) THEN
        RETURN NULL;
    END IF;
    INSERT INTO outpost.messages (id, kind, to_user, template, context, locale, subject, body, html,
                                  options, provider, tenant, priority, category, run_at,
                                  escalated_from)
    OVERRIDING SYSTEM VALUE
    VALUES (NEW.follow_up, t ->> 'kind', NEW.to_user, t ->> 'template',
            coalesce(t -> 'context', NEW.context), coalesce(t ->> 'locale', NEW.locale),
            t ->> 'subject', t ->> 'body', t ->> 'html',
            coalesce(t -> 'options', '{}')
                || CASE WHEN t ? 'escalate' THEN jsonb_build_object('escalate', t -> 'escalate')
                        ELSE '{}' END,
            t ->> 'provider', NEW.tenant, coalesce((t ->> 'priority')::smallint, NEW.priority),
            coalesce(t ->> 'category', NEW.category),
            NEW.run_at + outpost.escalation_after(spec), NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_follow_up AFTER INSERT ON outpost.messages
    FOR EACH ROW WHEN (NEW.follow_up IS NOT NULL)
    EXECUTE FUNCTION outpost.messages_follow_up();

-- Whether `fact` ('sent', 'delivered' or 'read') meets `unless`: read
-- implies delivered, which implies sent.
CREATE FUNCTION outpost.escalation_met(unless text, fact text) RETURNS boolean
LANGUAGE sql IMMUTABLE
RETURN array_position(ARRAY['sent', 'delivered', 'read'], fact)
    >= array_position(ARRAY['sent', 'delivered', 'read'], unless);

-- Ends `first`'s queued follow-up, cancelled, saying why.
CREATE FUNCTION outpost.escalation_cancel(first_id bigint, follow_up bigint, why text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE outpost.messages f
    SET status = 'cancelled', finished_at = now(), updated_at = now(),
        last_error = format('cancelled: message %s %s', escalation_cancel.first_id,
                            escalation_cancel.why)
    WHERE f.id = escalation_cancel.follow_up AND f.status = 'queued';
$$;

-- `first` was read (a chat read, an e-mail opened): its follow-up ends.
CREATE FUNCTION outpost.escalation_read(first outpost.messages) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT outpost.escalation_cancel(first.id, first.follow_up,
        format('was read within %s', first.options -> 'escalate' ->> 'after'))
    WHERE first.follow_up IS NOT NULL;
$$;

-- A message with a follow-up changed status: the follow-up ends, moves to
-- the send time plus `after`, or is due at once.
CREATE FUNCTION outpost.messages_escalation_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    spec jsonb := NEW.options -> 'escalate';
    unless text := spec ->> 'unless';
BEGIN
    IF NEW.status IN ('sent', 'delivered') THEN
        IF outpost.escalation_met(unless, NEW.status) THEN
            PERFORM outpost.escalation_cancel(NEW.id, NEW.follow_up,
                format('was %s within %s', NEW.status, spec ->> 'after'));
        ELSIF OLD.status NOT IN ('sent', 'delivered') THEN
            UPDATE outpost.messages f
            SET run_at = coalesce(NEW.sent_at, now()) + outpost.escalation_after(spec), updated_at = now()
            WHERE f.id = NEW.follow_up AND f.status = 'queued';
        END IF;
    ELSIF NEW.status IN ('failed', 'bounced', 'suppressed', 'expired') THEN
        UPDATE outpost.messages f SET run_at = now(), updated_at = now()
        WHERE f.id = NEW.follow_up AND f.status = 'queued' AND f.run_at > now();
        IF FOUND THEN
            PERFORM pg_notify('outpost_messages', '');
        END IF;
    ELSIF NEW.status = 'cancelled' THEN
        PERFORM outpost.escalation_cancel(NEW.id, NEW.follow_up, 'was cancelled');
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_escalation_status AFTER UPDATE OF status ON outpost.messages
    FOR EACH ROW WHEN (NEW.follow_up IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION outpost.messages_escalation_status();

-- A chat member read up to a message: the chat messages Outpost delivered to
-- them in that range were read.
CREATE FUNCTION outpost.chat_read_escalation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM outpost.escalation_read(m)
    FROM outpost.chat_messages c
    JOIN outpost.messages m ON m.id = c.outbox_message_id
    WHERE c.channel_id = NEW.channel_id
      AND c.id > OLD.last_read_message_id AND c.id <= NEW.last_read_message_id
      AND m.follow_up IS NOT NULL AND m.to_user = NEW.user_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER chat_members_read_escalation AFTER UPDATE OF last_read_message_id ON outpost.chat_members
    FOR EACH ROW WHEN (NEW.last_read_message_id > OLD.last_read_message_id)
    EXECUTE FUNCTION outpost.chat_read_escalation();

-- A provider said an e-mail was opened (or a link in it clicked): read.
CREATE FUNCTION outpost.event_read_escalation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM outpost.escalation_read(m) FROM outpost.messages m
    WHERE m.id = NEW.message_id AND m.follow_up IS NOT NULL;
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_read_escalation AFTER INSERT ON outpost.events
    FOR EACH ROW WHEN (NEW.event IN ('open', 'click') AND NEW.message_id IS NOT NULL)
    EXECUTE FUNCTION outpost.event_read_escalation();

-- The daemon found no address for message `message_id`'s kind and it names
-- options.fallback: write it again as that kind (once: a second call returns
-- the same fallback), moving its follow-up, if any, to the fallback.
-- Returns the fallback's id, or NULL when the message names none.
CREATE FUNCTION outpost.fall_back(message_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m outpost.messages;
    made bigint;
BEGIN
    SELECT * INTO m FROM outpost.messages x WHERE x.id = fall_back.message_id;
    IF m.id IS NULL OR NOT m.options ? 'fallback' THEN
        RETURN NULL;
    END IF;
    SELECT f.id INTO made FROM outpost.messages f
    WHERE f.escalated_from = m.id AND f.kind = m.options -> 'fallback' ->> 'kind'
      AND f.id IS DISTINCT FROM m.follow_up
    ORDER BY f.id LIMIT 1;
    IF made IS NOT NULL THEN
        RETURN made;
    END IF;
    IF m.follow_up IS NOT NULL THEN
        UPDATE outpost.messages x SET follow_up = NULL WHERE x.id = m.id;
    END IF;
    INSERT INTO outpost.messages (kind, to_user, template, context, locale, subject, body, html,
                                  options, tenant, priority, category, expires_at,
                                  escalated_from, follow_up)
    VALUES (m.options -> 'fallback' ->> 'kind', m.to_user, m.template, m.context, m.locale,
            coalesce(m.options -> 'fallback' ->> 'subject', m.subject,
                     CASE WHEN m.options -> 'fallback' ->> 'kind' = 'email' AND m.template IS NULL
                          THEN left(split_part(btrim(m.body), E'\n', 1), 78) END),
            m.body, m.html,
            CASE WHEN m.options ? 'escalate' THEN jsonb_build_object('escalate', m.options -> 'escalate')
                 ELSE '{}' END,
            m.tenant, m.priority, m.category, m.expires_at, m.id, m.follow_up)
    RETURNING id INTO made;
    RETURN made;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.fall_back(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.fall_back(bigint) TO outpost_daemon;
REVOKE EXECUTE ON FUNCTION outpost.escalation_cancel(bigint, bigint, text),
    outpost.escalation_read(outpost.messages) FROM PUBLIC;

-- Signed webhooks (0027): `message.escalated` when a follow-up or a
-- fallback is sent, naming the message it stands for (only follow-ups and
-- fallbacks reach the function).
CREATE FUNCTION outpost.webhook_message_escalated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM outpost.webhook_emit('message.escalated', NEW.tenant,
            jsonb_build_object('id', NEW.escalated_from, 'follow_up', NEW.id, 'kind', NEW.kind,
                               'to_user', NEW.to_user, 'tenant', NEW.tenant, 'sent_at', NEW.sent_at));
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_webhook_escalated AFTER UPDATE OF status ON outpost.messages
    FOR EACH ROW
    WHEN (NEW.escalated_from IS NOT NULL AND NEW.status = 'sent' AND OLD.status IS DISTINCT FROM 'sent')
    EXECUTE FUNCTION outpost.webhook_message_escalated();
