-- smtp_server: the SMTP server smtp_db sends through (enabled, lowest "order").
SELECT id, name, host, port, username, password, security, timeout_seconds
FROM outpost.smtp_servers
WHERE enabled
ORDER BY "order", id
LIMIT 1
