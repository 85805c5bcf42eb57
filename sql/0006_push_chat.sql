-- Push apps (Airship) and in-app messaging: per-tenant configuration,
-- channels, members and messages, with the original messaging API in SQL.

-- eGuide apps: further Airship apps, chosen per message with options.app.
CREATE TABLE outpost.push_apps (
    name          text PRIMARY KEY,
    app_key       text NOT NULL,
    -- Secret: never printed or logged by Outpost.
    master_secret text NOT NULL,
    base_url      text NOT NULL DEFAULT 'https://go.urbanairship.com',
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- InstitutionMessagingConfig: messaging per tenant (institution).
CREATE TABLE outpost.messaging_configs (
    tenant          text PRIMARY KEY,
    enabled         boolean NOT NULL DEFAULT true,
    -- Push the recipient's devices whenever a chat message reaches them.
    push_on_message boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outpost.chat_channels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('private', 'group')),
    -- The user a private channel belongs to.
    owner       text,
    tenant      text,
    subject     text,
    context     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'private') = (owner IS NOT NULL))
);
-- Exactly one private channel per user, even under concurrent creation.
CREATE UNIQUE INDEX chat_channels_private_owner ON outpost.chat_channels (owner) WHERE kind = 'private';

CREATE TABLE outpost.chat_members (
    channel_id            bigint NOT NULL REFERENCES outpost.chat_channels (id) ON DELETE CASCADE,
    user_id               text NOT NULL,
    joined_at             timestamptz NOT NULL DEFAULT now(),
    last_read_message_id  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX chat_members_user_idx ON outpost.chat_members (user_id);

CREATE TABLE outpost.chat_messages (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id          bigint NOT NULL REFERENCES outpost.chat_channels (id) ON DELETE CASCADE,
    -- NULL: a system message.
    sender              text,
    body                text NOT NULL CHECK (body <> ''),
    format              text NOT NULL DEFAULT 'plaintext' CHECK (format IN ('plaintext', 'html')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- The outbox row it came from (templated system messages, mirrored e-mails).
    outbox_message_id   bigint REFERENCES outpost.messages (id) ON DELETE SET NULL,
    CONSTRAINT chat_messages_html_only_from_system CHECK (format = 'plaintext' OR sender IS NULL)
);
CREATE INDEX chat_messages_channel_idx ON outpost.chat_messages (channel_id, id);

-- The text of a chat message as a push alert: tags stripped, shortened.
CREATE FUNCTION outpost.chat_alert(body text, format text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(btrim(regexp_replace(
        CASE WHEN format = 'html' THEN regexp_replace(body, '<[^>]*>', '', 'g') ELSE body END,
        '\s+', ' ', 'g')), 200);
$$;

-- messaging.send_system_message: appends to the user's private channel
-- (created on first use, exactly once), queues a push when the tenant wants
-- one, and returns the chat message id. Raises when messaging is not enabled
-- for the user's tenant.
CREATE FUNCTION outpost.send_system_message(
    to_user           text,
    message           text,
    format            text DEFAULT 'plaintext',
    tenant            text DEFAULT NULL,
    outbox_message_id bigint DEFAULT NULL,
    notify            boolean DEFAULT true
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    the_tenant text := coalesce(send_system_message.tenant,
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = send_system_message.to_user));
    config outpost.messaging_configs;
    channel bigint;
    new_id bigint;
BEGIN
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

-- messaging.send_system_message_template: queued, rendered by the daemon from
-- NAME.txt (plaintext) or NAME.html (html), then appended as above.
CREATE FUNCTION outpost.send_system_message_template(
    to_user         text,
    template        text,
    context         jsonb DEFAULT '{}'::jsonb,
    format          text DEFAULT 'plaintext',
    idempotency_key text DEFAULT NULL,
    run_at          timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF format NOT IN ('plaintext', 'html') THEN
        RAISE EXCEPTION 'format must be plaintext or html, not %', format;
    END IF;
    RETURN outpost.enqueue('chat', to_user => to_user, template => template, context => context,
        options => jsonb_build_object('format', format),
        tenant => (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = to_user),
        idempotency_key => idempotency_key, run_at => run_at);
END;
$$;

-- A user's message to a channel queues a push to every other member, when
-- the channel's tenant pushes on messages.
CREATE FUNCTION outpost.chat_message_fanout() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ch outpost.chat_channels;
BEGIN
    SELECT * INTO ch FROM outpost.chat_channels WHERE id = NEW.channel_id;
    IF EXISTS (SELECT 1 FROM outpost.messaging_configs c
               WHERE c.tenant = ch.tenant AND c.enabled AND c.push_on_message) THEN
        PERFORM outpost.enqueue('push', to_user => m.user_id,
                    body => outpost.chat_alert(NEW.body, NEW.format), tenant => ch.tenant,
                    options => jsonb_build_object('chat_channel_id', NEW.channel_id,
                                                  'chat_message_id', NEW.id, 'sender', NEW.sender))
        FROM outpost.chat_members m
        WHERE m.channel_id = NEW.channel_id AND m.user_id <> NEW.sender;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER chat_messages_fanout AFTER INSERT ON outpost.chat_messages
    FOR EACH ROW WHEN (NEW.sender IS NOT NULL) EXECUTE FUNCTION outpost.chat_message_fanout();

-- Reading: a user's channels with unread counts, newest activity first.
CREATE FUNCTION outpost.chat_channels_for(user_id text)
RETURNS TABLE (channel_id bigint, kind text, subject text, tenant text,
               last_message_at timestamptz, unread bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.id, c.kind, c.subject, c.tenant,
           (SELECT max(m.created_at) FROM outpost.chat_messages m WHERE m.channel_id = c.id),
           (SELECT count(*) FROM outpost.chat_messages m
            WHERE m.channel_id = c.id AND m.id > mem.last_read_message_id
              AND m.sender IS DISTINCT FROM chat_channels_for.user_id)
    FROM outpost.chat_members mem
    JOIN outpost.chat_channels c ON c.id = mem.channel_id
    WHERE mem.user_id = chat_channels_for.user_id
    ORDER BY 5 DESC NULLS LAST, c.id;
$$;

-- Reading: a channel's messages, newest first, page_size at a time; pass the
-- smallest id of the previous page as before_id for the next.
CREATE FUNCTION outpost.chat_messages_page(channel_id bigint, before_id bigint DEFAULT NULL,
                                           page_size int DEFAULT 50)
RETURNS SETOF outpost.chat_messages
LANGUAGE sql STABLE AS $$
    SELECT * FROM outpost.chat_messages m
    WHERE m.channel_id = chat_messages_page.channel_id
      AND (before_id IS NULL OR m.id < before_id)
    ORDER BY m.id DESC
    LIMIT least(greatest(page_size, 1), 500);
$$;

-- Marks everything in a channel read for a user; returns how many were unread.
CREATE FUNCTION outpost.chat_mark_read(channel_id bigint, user_id text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    newest bigint;
    previous bigint;
BEGIN
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

-- Mirrors a sent e-mail report into the user's private channel when their
-- tenant has messaging enabled; returns the chat message id, or NULL when
-- messaging is off for them. No push: they already have the e-mail.
CREATE FUNCTION outpost.mirror_to_chat(to_user text, subject text, body text,
                                       outbox_message_id bigint, tenant text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    the_tenant text := coalesce(mirror_to_chat.tenant,
        (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = mirror_to_chat.to_user));
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outpost.messaging_configs c WHERE c.tenant = the_tenant AND c.enabled) THEN
        RETURN NULL;
    END IF;
    RETURN outpost.send_system_message(mirror_to_chat.to_user,
        concat_ws(E'\n\n', nullif(btrim(subject, E' \t\r\n'), ''), nullif(btrim(body, E' \t\r\n'), '')),
        'plaintext', the_tenant, mirror_to_chat.outbox_message_id, false);
END;
$$;
