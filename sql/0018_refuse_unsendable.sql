-- What can never be sent is refused at enqueue, with an error naming the
-- column: timestamps outside years 1..9999 (infinity included), text and JSON
-- above their documented sizes, JSON nested deeper than 64 levels, an
-- options.digest_window that is not a duration of at most 31 days, and a
-- digest group already holding 100 queued messages. outpost.recipients gets
-- size and time bounds too (the claim reads its rows). The daemon reads every row it claims with
-- checked decoding as well (a row written before this migration, or by a
-- superuser, fails alone); this keeps such rows out in the first place.
--
-- A BEFORE INSERT trigger rather than CHECK constraints: PostgreSQL checks
-- every CHECK constraint on every UPDATE too, so the claim and the outcome
-- writes would pay for them, and one old row failing a new constraint would
-- make the claim that updates it fail for the whole batch. The trigger's WHEN
-- clause is one inlined expression, evaluated without calling PL/pgSQL for
-- rows that pass; only a row that fails it, or a digest member, runs the
-- function that says why.

-- The size of a JSON value as the daemon will hold it: its stored size when
-- stored uncompressed, else the length of its text (a value copied from
-- another table may arrive compressed). The three functions below use the
-- SQL-standard body (RETURN …), resolved when they are created, not in the
-- inserting session's search_path, and still inlined into the trigger's WHEN
-- clause; STABLE, as pg_column_size is (a function marked more strictly than
-- what it calls is not inlined, and costs a call per row).
CREATE FUNCTION outpost.json_bytes(value jsonb) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN value IS NULL THEN 0
            WHEN pg_column_compression(value) IS NULL THEN pg_column_size(value)::bigint
            ELSE octet_length(value::text)::bigint END;

-- A time the daemon can represent: years 1 to 9999, never infinity.
CREATE FUNCTION outpost.time_in_range(t timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN t IS NULL OR (t >= '0001-01-01 00:00:00+00' AND t < '10000-01-01 00:00:00+00');

-- True when every bound below holds; the error messages of
-- outpost.refuse_unsendable() must name the same numbers.
CREATE FUNCTION outpost.message_sendable(m outpost.messages) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN outpost.time_in_range(m.run_at) AND outpost.time_in_range(m.expires_at)
       AND coalesce(octet_length(m.to_user), 0) <= 1024
       AND coalesce(octet_length(m.to_address), 0) <= 16384
       AND coalesce(octet_length(m.template), 0) <= 1024
       AND coalesce(octet_length(m.locale), 0) <= 1024
       AND coalesce(octet_length(m.provider), 0) <= 1024
       AND coalesce(octet_length(m.tenant), 0) <= 1024
       AND coalesce(octet_length(m.idempotency_key), 0) <= 1024
       AND coalesce(octet_length(m.category), 0) <= 1024
       AND coalesce(octet_length(m.digest_key), 0) <= 1024
       AND coalesce(octet_length(m.subject), 0) <= 16384
       AND coalesce(octet_length(m.body), 0) <= 4194304
       AND coalesce(octet_length(m.html), 0) <= 4194304
       AND outpost.json_bytes(m.context) <= 1048576
       AND outpost.json_bytes(m.options) <= 16777216
       AND NOT jsonb_path_exists(m.context, 'strict $.**{64}')
       AND NOT jsonb_path_exists(m.options, 'strict $.**{64}');

-- options.digest_window as the claim uses it: never raises (NULL when it is
-- not a duration), never more than 31 days (a row written before 0018 may
-- hold anything; `now() + interval '300000 years'` would fail the claim).
CREATE FUNCTION outpost.digest_window_or_null(options jsonb) RETURNS interval
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN least(outpost.digest_window(options), interval '31 days');
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END;
$$;

-- Whether options.digest_window is absent, or a duration of at most 31 days.
CREATE FUNCTION outpost.digest_window_valid(options jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN options IS NULL OR NOT options ? 'digest_window'
        OR coalesce(outpost.digest_window(options) <= interval '31 days', true);
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END;
$$;

-- Raises the first reason `m` cannot be enqueued (SQLSTATE 23514, as a
-- CHECK constraint would); returns NEW when there is none.
CREATE FUNCTION outpost.refuse_unsendable() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col text;
    bytes bigint;
    cap bigint;
    queued int;
BEGIN
    FOREACH col IN ARRAY ARRAY['run_at', 'expires_at'] LOOP
        IF NOT outpost.time_in_range(CASE col WHEN 'run_at' THEN NEW.run_at ELSE NEW.expires_at END) THEN
            RAISE EXCEPTION 'outpost.messages.% must be a time between the years 1 and 9999, not %',
                col, CASE col WHEN 'run_at' THEN NEW.run_at ELSE NEW.expires_at END
                USING ERRCODE = '23514',
                      HINT = CASE col WHEN 'expires_at' THEN 'leave expires_at NULL for a message that never expires'
                                      ELSE 'leave run_at out to send now' END;
        END IF;
    END LOOP;
    FOR col, bytes, cap IN VALUES
        ('to_user', octet_length(NEW.to_user), 1024),
        ('to_address', octet_length(NEW.to_address), 16384),
        ('template', octet_length(NEW.template), 1024),
        ('locale', octet_length(NEW.locale), 1024),
        ('provider', octet_length(NEW.provider), 1024),
        ('tenant', octet_length(NEW.tenant), 1024),
        ('idempotency_key', octet_length(NEW.idempotency_key), 1024),
        ('category', octet_length(NEW.category), 1024),
        ('digest_key', octet_length(NEW.digest_key), 1024),
        ('subject', octet_length(NEW.subject), 16384),
        ('body', octet_length(NEW.body), 4194304),
        ('html', octet_length(NEW.html), 4194304),
        ('context', outpost.json_bytes(NEW.context), 1048576),
        ('options', outpost.json_bytes(NEW.options), 16777216)
    LOOP
        IF coalesce(bytes, 0) > cap THEN
            RAISE EXCEPTION 'outpost.messages.% is % bytes, above its limit of % bytes', col, bytes, cap
                USING ERRCODE = '23514';
        END IF;
    END LOOP;
    IF jsonb_path_exists(NEW.context, 'strict $.**{64}') THEN
        RAISE EXCEPTION 'outpost.messages.context is nested more than 64 levels deep' USING ERRCODE = '23514';
    END IF;
    IF jsonb_path_exists(NEW.options, 'strict $.**{64}') THEN
        RAISE EXCEPTION 'outpost.messages.options is nested more than 64 levels deep' USING ERRCODE = '23514';
    END IF;
    -- Raises its own error for a value that is not a duration.
    IF outpost.digest_window(NEW.options) > interval '31 days' THEN
        RAISE EXCEPTION 'options.digest_window % is longer than 31 days', NEW.options -> 'digest_window'
            USING ERRCODE = '23514';
    END IF;
    IF NEW.digest_key IS NOT NULL THEN
        SELECT count(*) INTO queued FROM (
            SELECT 1 FROM outpost.messages m
            WHERE m.status = 'queued' AND m.digest_key = NEW.digest_key AND m.kind = NEW.kind
              AND m.to_user IS NOT DISTINCT FROM NEW.to_user
              AND m.to_address IS NOT DISTINCT FROM NEW.to_address
            LIMIT 100) g;
        IF queued >= 100 THEN
            RAISE EXCEPTION 'digest group % already holds 100 queued messages, the most one digest carries',
                quote_literal(NEW.digest_key) USING ERRCODE = '23514';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER messages_refuse_unsendable BEFORE INSERT ON outpost.messages
    FOR EACH ROW
    WHEN (NOT outpost.message_sendable(NEW) OR NEW.digest_key IS NOT NULL
          OR NEW.options ? 'digest_window')
    EXECUTE FUNCTION outpost.refuse_unsendable();

-- What the claim reads of a recipient is bounded too: sizes as for messages,
-- times the daemon can represent. CHECK constraints (recipients are written
-- rarely), NOT VALID so that rows already there are not scanned nor refused;
-- the claim also truncates what it reads of them.
ALTER TABLE outpost.recipients
    ADD CONSTRAINT recipients_sizes_check CHECK (
        coalesce(octet_length(user_id), 0) <= 1024
        AND coalesce(octet_length(email), 0) <= 16384
        AND coalesce(octet_length(phone), 0) <= 1024
        AND coalesce(octet_length(locale), 0) <= 1024
        AND coalesce(octet_length(timezone), 0) <= 1024
        AND coalesce(octet_length(tenant), 0) <= 1024
        AND coalesce(octet_length(push_named_user), 0) <= 1024
        AND coalesce(octet_length(name), 0) <= 1024
        AND coalesce(octet_length(quiet_hours), 0) <= 1024) NOT VALID,
    ADD CONSTRAINT recipients_times_check CHECK (
        outpost.time_in_range(created_at) AND outpost.time_in_range(updated_at)) NOT VALID;

-- Queued rows written before this migration that the trigger would refuse
-- fail now, with the reason, instead of at the claim.
UPDATE outpost.messages m
SET status = 'failed',
    last_error = 'refused by 0018: outside the bounds outpost.messages now enforces at enqueue '
                 || '(times in years 1..9999, sizes, JSON depth 64, digest_window up to 31 days)',
    finished_at = now(),
    updated_at = now()
WHERE m.status = 'queued'
  AND (NOT outpost.message_sendable(m)
       OR (m.options ? 'digest_window' AND NOT outpost.digest_window_valid(m.options)));
