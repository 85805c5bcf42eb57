-- console_overview_counts: messages by kind and status: every queued and
-- sending one (partial indexes), and the others created in the last 24 hours
-- (message_keys_created_idx), so the page costs the same at any table size.
SELECT kind, status, count(*) AS n, false AS recent_only
FROM outpost.messages WHERE status = 'queued' GROUP BY kind, status
UNION ALL
SELECT kind, status, count(*), false
FROM outpost.messages WHERE status = 'sending' GROUP BY kind, status
UNION ALL
SELECT m.kind, m.status, count(*), true
FROM outpost.message_keys k
JOIN outpost.messages m ON m.id = k.message_id
WHERE k.created_at > now() - interval '24 hours' AND m.status NOT IN ('queued', 'sending')
GROUP BY m.kind, m.status
