-- console_sessions_purge: forget sessions that have expired.
DELETE FROM outpost.console_sessions WHERE expires_at <= now()
