-- oldest_queued: how long the longest-waiting due message has waited (seconds).
SELECT extract(epoch FROM now() - min(run_at))::float8
FROM outpost.messages
WHERE status = 'queued' AND run_at <= now()
