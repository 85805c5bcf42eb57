-- console_session_touch: the live session whose token hashes to $1, its idle
-- expiry pushed $2 seconds from now.
UPDATE outpost.console_sessions s
SET last_seen = now(), expires_at = now() + make_interval(secs => $2)
FROM outpost.console_users u
WHERE s.token_hash = $1 AND s.expires_at > now() AND u.name = s.user_name
RETURNING s.user_name, u.role, s.csrf_token
