-- status_user: a user's messages since $2, newest first, from the audit view.
SELECT id, kind, status, coalesce(to_address, '') AS to_address, attempts,
       coalesce(last_provider, '-') AS provider, created_at, last_event, last_error
FROM outpost.message_status
WHERE to_user = $1 AND created_at >= $2
ORDER BY created_at DESC, id DESC
LIMIT 1000
