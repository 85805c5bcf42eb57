-- console_overview_activity: attempts finished since $1, by $2 ('minute' or
-- 'hour') and outcome: sent, failed, retried (retry) and unknown.
SELECT date_trunc($2::text, finished_at, 'UTC') AS bucket, outcome, count(*) AS n
FROM outpost.attempts
WHERE started_at > $1::timestamptz - interval '1 hour' AND finished_at >= $1::timestamptz
GROUP BY 1, 2
