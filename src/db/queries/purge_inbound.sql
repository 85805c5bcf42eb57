-- purge_inbound: delete up to $2 inbound e-mails (and attachments) received more than $1 seconds ago.
DELETE FROM outpost.inbound_emails
WHERE id IN (
    SELECT id FROM outpost.inbound_emails
    WHERE received_at < now() - make_interval(secs => $1)
    ORDER BY received_at
    LIMIT $2)
