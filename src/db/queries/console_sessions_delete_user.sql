-- console_sessions_delete_user: end every session of console user $1.
DELETE FROM outpost.console_sessions WHERE user_name = $1
