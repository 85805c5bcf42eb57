-- stats_status: messages created since $1 by kind and status (the window
-- read from message_keys_created_idx, 0017).
SELECT m.kind, m.status, count(*) AS n
FROM outpost.message_keys k
JOIN outpost.messages m ON m.id = k.message_id
WHERE k.created_at >= $1
GROUP BY m.kind, m.status
ORDER BY m.kind, m.status
