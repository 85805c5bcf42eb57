-- console_smtp_update: edit SMTP server $1; the password changes only when
-- $6 is not NULL (write-only: an empty field keeps it).
UPDATE outpost.smtp_servers
SET name = $2, host = $3, port = $4, username = $5, password = coalesce($6, password),
    security = $7, "order" = $8, timeout_seconds = $9, updated_at = now()
WHERE id = $1
