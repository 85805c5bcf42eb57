-- console_session_delete: end the session whose token hashes to $1 (logout).
DELETE FROM outpost.console_sessions WHERE token_hash = $1
