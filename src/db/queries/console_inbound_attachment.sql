-- console_inbound_attachment: attachment $2 of received e-mail $1, with its
-- content and the mail's tenant.
SELECT a.filename, a.content_type, a.content, e.tenant
FROM outpost.inbound_attachments a
JOIN outpost.inbound_emails e ON e.id = a.inbound_email_id
WHERE a.inbound_email_id = $1 AND a.id = $2
