-- console_inbound_get: received e-mail $1.
SELECT id, message_id, mode, from_address, to_addresses, cc, subject, text_body, html_body,
       headers, envelope, sender_ip, spf, dkim, spam_score, spam_report, received_at, note,
       tenant
FROM outpost.inbound_emails
WHERE id = $1
