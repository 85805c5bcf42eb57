-- console_smtp_enable: enable ($2 true) or disable SMTP server $1.
UPDATE outpost.smtp_servers SET enabled = $2, updated_at = now() WHERE id = $1
