-- Every helper that queues a message takes every delivery control the
-- outbox has (a schema test holds them to the table's columns):
-- send_system_message_template now takes `options` too, merged under its
-- `format`. (send_system_message returns a chat message's id, not an outbox
-- message's, and is left as it is.)
DROP FUNCTION outpost.send_system_message_template(text, text, jsonb, text, text, timestamptz,
                                                   text, int, text, timestamptz, int, text,
                                                   text, text);
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
    options         jsonb DEFAULT '{}'::jsonb
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
        coalesce(send_system_message_template.options, '{}'::jsonb)
            || jsonb_build_object('format', format),
        provider, the_tenant, priority, run_at, expires_at,
        idempotency_key, max_attempts, category, digest_key);
END;
$$;
