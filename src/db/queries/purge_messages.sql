-- purge_messages: delete up to $2 finished messages older than $1 seconds
-- (their attempts go with them).
DELETE FROM outpost.messages
WHERE id IN (
    SELECT id FROM outpost.messages
    WHERE finished_at < now() - make_interval(secs => $1)
      AND status IN ('sent', 'delivered', 'failed', 'bounced', 'cancelled', 'expired', 'suppressed')
    ORDER BY finished_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED)
