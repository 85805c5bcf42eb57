-- Now, in commit order: a stream opened without Last-Event-ID starts here.
SELECT pg_current_snapshot()::text AS snapshot
