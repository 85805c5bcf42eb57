-- purge_messages: delete up to $2 finished messages older than $1 seconds
-- (their attempts and keys go with them). Driven by the keys' creation time
-- (message_keys_created_idx, 0017): a message finished before the cutoff was
-- created before it, so the oldest are looked at first, each message by its
-- primary key (a subquery that locks is never flattened into a join, so no
-- estimate of finished_at can turn this into a scan of messages), and those
-- still waiting or locked are passed over. = ANY(ARRAY(…)): the deletion
-- fetches the chosen rows by primary key too.
DELETE FROM outpost.messages
WHERE id = ANY (ARRAY(
    SELECT m.id
    FROM outpost.message_keys k
    CROSS JOIN LATERAL (
        SELECT m.id FROM outpost.messages m
        WHERE m.id = k.message_id
          AND m.finished_at < now() - make_interval(secs => $1)
          AND m.status IN ('sent', 'delivered', 'failed', 'bounced', 'cancelled', 'expired', 'suppressed')
        FOR UPDATE SKIP LOCKED) m
    WHERE k.created_at < now() - make_interval(secs => $1)
    ORDER BY k.created_at
    LIMIT $2))
