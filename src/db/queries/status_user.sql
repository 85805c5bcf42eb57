-- status_user: a user's messages since $2, newest first, from the audit view
-- (found through outpost.message_keys).
SELECT s.id, s.kind, s.status, coalesce(s.to_address, '') AS to_address, s.attempts,
       coalesce(s.last_provider, '-') AS provider, s.created_at, s.last_event, s.last_error
FROM outpost.message_keys k
JOIN outpost.message_status s ON s.id = k.message_id
WHERE k.to_user = $1 AND k.created_at >= $2
ORDER BY k.created_at DESC, k.message_id DESC
LIMIT 1000
