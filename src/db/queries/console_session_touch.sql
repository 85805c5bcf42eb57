-- console_session_touch: the live session whose token hashes to $1 (used in
-- the last $2 seconds and started less than $3 seconds ago), its idle expiry
-- pushed $2 seconds from now but never past its absolute end.
UPDATE outpost.console_sessions s
SET last_seen = now(),
    expires_at = least(now() + make_interval(secs => $2),
                       s.created_at + make_interval(secs => $3))
FROM outpost.console_users u
WHERE s.token_hash = $1 AND s.expires_at > now()
  AND s.created_at + make_interval(secs => $3) > now() AND u.name = s.user_name
RETURNING s.user_name, u.role, s.csrf_token, u.tenant
