-- console_smtp_get: SMTP server $1, password included (for tests of it; never shown).
SELECT id, name, host, port, username, password, password <> '' AS password_set, security,
       timeout_seconds, "order", enabled
FROM outpost.smtp_servers
WHERE id = $1
