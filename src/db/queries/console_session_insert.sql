-- console_session_insert: a new session (token hash $1) for user $2 with
-- form token $3, from address $4, idle for at most $5 seconds.
INSERT INTO outpost.console_sessions (token_hash, user_name, csrf_token, address, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
