-- console_smtp_delete: delete SMTP server $1.
DELETE FROM outpost.smtp_servers WHERE id = $1
