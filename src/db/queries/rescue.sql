-- rescue: return up to $2 messages whose lease expired to the queue, or fail
-- them when their budget ($1 when the row has none) is spent. The attempt
-- that was cut short is recorded as 'unknown': it may have been sent.
WITH stale AS (
    SELECT id, attempts, worker, updated_at AS claimed_at,
           attempts >= coalesce(max_attempts, $1) AS spent
    FROM outpost.messages
    WHERE status = 'sending' AND leased_until < now()
    ORDER BY leased_until
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE outpost.messages m
    SET status = CASE WHEN s.spent THEN 'failed' ELSE 'queued' END,
        leased_until = NULL,
        last_error = format('lease of worker %s expired during attempt %s; the message may have been sent%s',
                            s.worker, s.attempts,
                            CASE WHEN s.spent THEN ' (no attempts left)' ELSE '' END),
        finished_at = CASE WHEN s.spent THEN now() ELSE NULL END,
        updated_at = now()
    FROM stale s
    WHERE m.id = s.id
    RETURNING m.id, s.attempts, s.worker, s.claimed_at, m.status
), noted AS (
    INSERT INTO outpost.attempts (message_id, attempt, worker, started_at, finished_at,
                                  outcome, error, applied)
    SELECT id, attempts, worker, claimed_at, now(), 'unknown',
           'the lease expired before an outcome was recorded (worker crash, stall or lost database connection); the message may have been sent',
           true
    FROM rescued
    ON CONFLICT (message_id, attempt) DO NOTHING
)
SELECT id, status FROM rescued
