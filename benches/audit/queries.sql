-- The README's audit queries, timed with EXPLAIN ANALYZE on a grown bench
-- database (outpost-bench growth --keep-database):
--   psql -X -f benches/audit/queries.sql URL-of-the-kept-database
-- The bench's messages have no to_user, so 200 messages of user '42' (sent,
-- each with its attempt) are added first, over the last 7 days.
\set ON_ERROR_STOP on
\pset pager off
WITH m AS (
    INSERT INTO outpost.messages (kind, to_user, subject, body, status, attempts, created_at, sent_at, finished_at)
    SELECT 'email', '42', 'Audit', 'Hello', 'sent', 1, now() - g * interval '50 minutes', now(), now()
    FROM generate_series(1, 200) g
    WHERE NOT EXISTS (SELECT 1 FROM outpost.message_keys WHERE to_user = '42')
    RETURNING id, created_at
)
INSERT INTO outpost.attempts (message_id, attempt, worker, provider, started_at, finished_at, outcome)
SELECT id, 1, 'audit', 'sendgrid', created_at, created_at + interval '80 ms', 'sent' FROM m;
ANALYZE outpost.messages;
ANALYZE outpost.attempts;
ANALYZE outpost.message_keys;
SELECT count(*) AS messages, pg_size_pretty(pg_total_relation_size('outpost.messages')) AS messages_size,
       pg_size_pretty(pg_total_relation_size('outpost.attempts')) AS attempts_size
FROM outpost.messages;
SELECT n_live_tup, n_dead_tup, last_autovacuum, autovacuum_count
FROM pg_stat_user_tables WHERE relid = 'outpost.messages'::regclass;
SELECT (max(id) / 2) AS mid FROM outpost.messages \gset
-- 1. one message
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM outpost.message_status WHERE id = :mid;
-- 2. a user's last 7 days (status_user.sql, `outpost status --user 42 --since 7d`)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, kind, status, coalesce(to_address, '') AS to_address, attempts,
       coalesce(last_provider, '-') AS provider, created_at, last_event, last_error
FROM outpost.message_status
WHERE to_user = '42' AND created_at >= now() - interval '7 days'
ORDER BY created_at DESC, id DESC LIMIT 1000;
-- 2b. the README's form of it, straight on the view
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, kind, status, last_provider, last_event, last_error
FROM outpost.message_status WHERE to_user = '42' AND created_at > now() - interval '7 days';
-- 3. `outpost stats` (stats.sql, then stats_status.sql) over the drain's last
-- second (about as many rows as an hour of moderate traffic)
SELECT max(started_at) - interval '1 second' AS since FROM outpost.attempts \gset
SELECT count(*) AS attempts_in_window FROM outpost.attempts WHERE started_at >= :'since';
SELECT max(created_at) - interval '1 second' AS created_since FROM outpost.message_keys WHERE to_user IS NULL \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT m.kind, coalesce(a.provider, '-') AS provider, count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'sent') AS sent,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.finished_at - a.started_at))::float8 AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM a.finished_at - a.started_at))::float8 AS p95
FROM outpost.attempts a JOIN outpost.messages m ON m.id = a.message_id
WHERE a.started_at >= :'since'
GROUP BY m.kind, coalesce(a.provider, '-');
-- stats_status.sql as shipped (0017): creation time through message_keys
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT m.kind, m.status, count(*) AS n
FROM outpost.message_keys k JOIN outpost.messages m ON m.id = k.message_id
WHERE k.created_at >= :'created_since' GROUP BY m.kind, m.status;
-- 4. `outpost stats --since 24h`: here that is every row of the grown table
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT m.kind, coalesce(a.provider, '-') AS provider, count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'sent') AS sent,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.finished_at - a.started_at))::float8 AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM a.finished_at - a.started_at))::float8 AS p95
FROM outpost.attempts a JOIN outpost.messages m ON m.id = a.message_id
WHERE a.started_at >= now() - interval '24 hours'
GROUP BY m.kind, coalesce(a.provider, '-');
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT m.kind, m.status, count(*) AS n
FROM outpost.message_keys k JOIN outpost.messages m ON m.id = k.message_id
WHERE k.created_at >= now() - interval '24 hours' GROUP BY m.kind, m.status;
