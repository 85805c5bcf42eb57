-- release: give back worker $1's unfinished messages ($2, attempt numbers $5)
-- to the queue, on shutdown or when a lease ran out before the send began.
-- Those whose send never began ($3 false) get their attempt back; those cut
-- short mid-send keep it and get an 'unknown' attempt row.
WITH input AS (
    SELECT * FROM unnest($2::bigint[], $3::bool[], $4::timestamptz[], $5::int[])
        AS i(id, started, started_at, attempt)
), released AS (
    UPDATE outpost.messages m
    SET status = 'queued',
        leased_until = NULL,
        attempts = m.attempts - CASE WHEN i.started THEN 0 ELSE 1 END,
        run_at = now(),
        updated_at = now()
    FROM input i
    WHERE m.id = i.id AND m.status = 'sending' AND m.worker = $1 AND m.attempts = i.attempt
    RETURNING m.id, m.attempts, i.started, i.started_at
), noted AS (
    INSERT INTO outpost.attempts (message_id, attempt, worker, started_at, finished_at,
                                  outcome, error, applied)
    SELECT id, attempts, $1, started_at, now(), 'unknown',
           'interrupted by shutdown mid-send and returned to the queue; the message may have been sent',
           true
    FROM released
    WHERE started
    ON CONFLICT (message_id, attempt) DO NOTHING
)
SELECT id FROM released
