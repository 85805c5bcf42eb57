-- inbound_attachment: one attachment of a received e-mail.
INSERT INTO outpost.inbound_attachments (inbound_email_id, filename, content_type, content_id, size, content)
VALUES ($1, $2, $3, $4, $5, $6)
