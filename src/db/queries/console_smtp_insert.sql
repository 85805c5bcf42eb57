-- console_smtp_insert: a new SMTP server, last in order unless $7 is given.
INSERT INTO outpost.smtp_servers (name, host, port, username, password, security, "order",
                                  timeout_seconds, enabled)
VALUES ($1, $2, $3, $4, $5, $6,
        coalesce($7, (SELECT coalesce(max("order"), 0) + 10 FROM outpost.smtp_servers)),
        $8, $9)
RETURNING id
