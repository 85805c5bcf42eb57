-- console_inbound_attachments: the attachments of received e-mail $1, without content.
SELECT id, filename, content_type, size
FROM outpost.inbound_attachments
WHERE inbound_email_id = $1
ORDER BY id
