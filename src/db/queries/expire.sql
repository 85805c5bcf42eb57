-- expire: end up to $1 queued messages whose expires_at has passed.
UPDATE outpost.messages
SET status = 'expired',
    last_error = format('expired at %s before it could be sent', expires_at),
    finished_at = now(),
    updated_at = now()
WHERE id IN (
    SELECT id FROM outpost.messages
    WHERE status = 'queued' AND expires_at <= now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING id
