-- purge_events: delete up to $2 provider events received more than $1 seconds ago.
DELETE FROM outpost.events
WHERE id IN (
    SELECT id FROM outpost.events
    WHERE received_at < now() - make_interval(secs => $1)
    ORDER BY received_at
    LIMIT $2)
