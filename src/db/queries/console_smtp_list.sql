-- console_smtp_list: every SMTP server in the order smtp_db picks them
-- (enabled first, lowest "order"); the password only as set / not set.
SELECT id, name, host, port, username, password <> '' AS password_set, security,
       timeout_seconds, "order", enabled, updated_at
FROM outpost.smtp_servers
ORDER BY enabled DESC, "order", id
