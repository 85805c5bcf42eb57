-- console_inbound_attachment: attachment $2 of received e-mail $1, with its content.
SELECT filename, content_type, content
FROM outpost.inbound_attachments
WHERE inbound_email_id = $1 AND id = $2
