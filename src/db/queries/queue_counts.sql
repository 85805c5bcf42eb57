-- queue_counts: messages waiting (queued) and in flight (sending) by kind, for
-- the queue gauges. Each half reads only the rows of its partial index
-- (messages_claim_kind_idx, messages_lease_idx), so the cost follows the
-- backlog, never the sent history.
SELECT kind, 'queued' AS status, count(*) AS n
FROM outpost.messages
WHERE status = 'queued'
GROUP BY kind
UNION ALL
SELECT kind, 'sending', count(*)
FROM outpost.messages
WHERE status = 'sending'
GROUP BY kind
