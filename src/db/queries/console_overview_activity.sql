-- console_overview_activity: attempts finished since $1, by $2 ('minute' or
-- 'hour') and outcome: sent, failed, retried (retry) and unknown; of tenant
-- $3's messages only when it is not NULL.
SELECT date_trunc($2::text, a.finished_at, 'UTC') AS bucket, a.outcome, count(*) AS n
FROM outpost.attempts a
WHERE a.started_at > $1::timestamptz - interval '1 hour' AND a.finished_at >= $1::timestamptz
  AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM outpost.messages m
                                   WHERE m.id = a.message_id AND coalesce(m.tenant, '') = $3))
GROUP BY 1, 2
