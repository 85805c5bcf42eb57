-- The real-time inbox (issue 29): tokens an application mints for one of its
-- users, signed with HMAC-SHA256 under a versioned key that only the schema's
-- owner and the daemon can read, and one NOTIFY on `outpost_inbox` per new
-- chat message batch and per read change, carrying ids only; the daemon
-- reads what a user's stream needs.

-- The signing keys: the newest signs, every one kept verifies. A key is
-- deleted once its successor is older than the longest token lifetime
-- (7 days), so the tokens it signed have all expired.
CREATE TABLE outpost.inbox_keys (
    version    int PRIMARY KEY CHECK (version > 0),
    secret     bytea NOT NULL CHECK (octet_length(secret) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON outpost.inbox_keys FROM PUBLIC;
GRANT SELECT ON outpost.inbox_keys TO outpost_daemon;

-- 64 bytes from the server's strong random source (four version-4 UUIDs:
-- 488 random bits).
CREATE FUNCTION outpost.inbox_secret() RETURNS bytea
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT decode(string_agg(replace(gen_random_uuid()::text, '-', ''), ''), 'hex')
    FROM generate_series(1, 4);
$$;

-- HMAC-SHA256 (RFC 2104) over the built-in sha256(), so that no extension
-- is needed.
CREATE FUNCTION outpost.hmac_sha256(key bytea, message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k bytea := CASE WHEN octet_length(key) > 64 THEN sha256(key) ELSE key END;
    inner_pad bytea;
    outer_pad bytea;
BEGIN
    k := k || decode(repeat('00', 64 - octet_length(k)), 'hex');
    inner_pad := k;
    outer_pad := k;
    FOR i IN 0..63 LOOP
        inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54);
        outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92);
    END LOOP;
    RETURN sha256(outer_pad || sha256(inner_pad || message));
END;
$$;

-- Base64url without padding (RFC 4648 §5).
CREATE FUNCTION outpost.base64url(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT translate(encode(data, 'base64'), E'+/=\n', '-_');
$$;

INSERT INTO outpost.inbox_keys (version, secret) VALUES (1, outpost.inbox_secret());

-- A token for user `user_id`'s inbox, valid for `ttl` (at most 7 days):
-- `v<version>.<base64url user>.<expiry, Unix seconds>.<base64url MAC>`, the
-- MAC over `outpost-inbox.` and the first three parts. A role with a
-- tenant may mint tokens for its own users only.
CREATE FUNCTION outpost.inbox_token(user_id text, ttl interval DEFAULT '1 hour',
                                    caller name DEFAULT current_user) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    the_key outpost.inbox_keys;
    signed text;
BEGIN
    IF inbox_token.user_id IS NULL OR inbox_token.user_id = '' THEN
        RAISE EXCEPTION 'outpost.inbox_token: the user must not be empty';
    END IF;
    IF octet_length(inbox_token.user_id) > 1024 THEN
        RAISE EXCEPTION 'outpost.inbox_token: a user id is at most 1024 bytes';
    END IF;
    IF ttl IS NULL OR ttl <= interval '0' OR ttl > interval '7 days' THEN
        RAISE EXCEPTION 'outpost.inbox_token: ttl must be above zero and at most 7 days, not %', ttl;
    END IF;
    PERFORM outpost.require_user(inbox_token.user_id, inbox_token.caller);
    SELECT * INTO the_key FROM outpost.inbox_keys k ORDER BY k.version DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'outpost.inbox_token: no inbox key (run outpost inbox rotate-key)';
    END IF;
    signed := format('v%s.%s.%s', the_key.version,
                     outpost.base64url(convert_to(inbox_token.user_id, 'UTF8')),
                     ceil(extract(epoch FROM clock_timestamp() + ttl))::bigint);
    RETURN signed || '.' || outpost.base64url(
        outpost.hmac_sha256(the_key.secret, convert_to('outpost-inbox.' || signed, 'UTF8')));
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.inbox_token(text, interval, name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.inbox_token(text, interval, name) TO outpost_app, outpost_daemon;
REVOKE EXECUTE ON FUNCTION outpost.inbox_secret(), outpost.hmac_sha256(bytea, bytea) FROM PUBLIC;

-- `outpost inbox rotate-key`: a new key signs from now on; the old ones keep
-- verifying the tokens they signed until those expire. Returns the new
-- version. The owner's alone.
CREATE FUNCTION outpost.inbox_rotate_key() RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_version int;
BEGIN
    LOCK TABLE outpost.inbox_keys IN EXCLUSIVE MODE;
    INSERT INTO outpost.inbox_keys (version, secret)
    SELECT coalesce(max(k.version), 0) + 1, outpost.inbox_secret() FROM outpost.inbox_keys k
    RETURNING version INTO new_version;
    DELETE FROM outpost.inbox_keys k
    WHERE EXISTS (SELECT 1 FROM outpost.inbox_keys n
                  WHERE n.version > k.version AND n.created_at < now() - interval '7 days');
    PERFORM pg_notify('outpost_inbox', 'k');
    RETURN new_version;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.inbox_rotate_key() FROM PUBLIC;

-- New chat messages: 'm' and their ids, comma-separated, at most 500 a
-- notification (a payload stays under PostgreSQL's 8000 bytes).
CREATE FUNCTION outpost.inbox_notify_messages() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('outpost_inbox', 'm' || string_agg(a.id::text, ',' ORDER BY a.id))
    FROM (SELECT n.id, (row_number() OVER (ORDER BY n.id) - 1) / 500 AS chunk FROM added n) a
    GROUP BY a.chunk;
    RETURN NULL;
END;
$$;
CREATE TRIGGER chat_messages_inbox AFTER INSERT ON outpost.chat_messages
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.inbox_notify_messages();

-- A member's read mark moved: 'r<channel>:<user>' (without the user when
-- it is too long for a payload: then every member's state is read again).
CREATE FUNCTION outpost.inbox_notify_read() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('outpost_inbox', 'r' || NEW.channel_id || ':'
        || CASE WHEN octet_length(NEW.user_id) <= 4000 THEN NEW.user_id ELSE '' END);
    RETURN NULL;
END;
$$;
CREATE TRIGGER chat_members_inbox AFTER UPDATE OF last_read_message_id ON outpost.chat_members
    FOR EACH ROW WHEN (NEW.last_read_message_id IS DISTINCT FROM OLD.last_read_message_id)
    EXECUTE FUNCTION outpost.inbox_notify_read();
