-- outpost.retry no longer pulls a message scheduled for later forward to now:
-- a future run_at is kept; a past one becomes now. Same signature, grants and
-- rights as before (SECURITY DEFINER, fixed search path, from 0007).
CREATE OR REPLACE FUNCTION outpost.retry(message_id bigint, extra_attempts int DEFAULT 3) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_id bigint;
BEGIN
    IF extra_attempts IS NULL OR extra_attempts < 1 THEN
        RAISE EXCEPTION 'outpost.retry: extra_attempts must be at least 1, got %', extra_attempts;
    END IF;
    UPDATE outpost.messages
    SET status = 'queued', run_at = greatest(run_at, now()), max_attempts = attempts + extra_attempts,
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
