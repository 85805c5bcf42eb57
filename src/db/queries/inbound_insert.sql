-- inbound_insert: store one received e-mail; nothing when its dedupe key
-- (Message-ID and a digest of the content, else a hash of the request) was
-- stored before.
INSERT INTO outpost.inbound_emails (dedupe_key, message_id, mode, from_address, to_addresses,
    cc, subject, text_body, html_body, headers, envelope, sender_ip, spf, dkim, spam_score,
    spam_report, charsets, raw_message, raw_bytes, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
