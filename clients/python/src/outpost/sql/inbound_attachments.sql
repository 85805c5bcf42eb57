-- outpost_inbound: the attachments of one stored e-mail.
SELECT filename, content_type, content_id, content
FROM outpost.inbound_attachments
WHERE inbound_email_id = %(id)s
ORDER BY id
