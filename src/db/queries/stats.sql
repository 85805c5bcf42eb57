-- stats: attempts since $1 by kind and provider: counts, success rate and
-- send latency percentiles (seconds).
SELECT m.kind, coalesce(a.provider, '-') AS provider,
       count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'sent') AS sent,
       count(*) FILTER (WHERE a.outcome = 'retry') AS retried,
       count(*) FILTER (WHERE a.outcome = 'failed') AS failed,
       count(*) FILTER (WHERE a.outcome = 'unknown') AS unknown,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.finished_at - a.started_at))::float8 AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM a.finished_at - a.started_at))::float8 AS p95
FROM outpost.attempts a
JOIN outpost.messages m ON m.id = a.message_id
WHERE a.started_at >= $1
GROUP BY m.kind, coalesce(a.provider, '-')
ORDER BY m.kind, provider
